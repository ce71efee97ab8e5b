"""账目 (三资, 村财乡管; issue 13): a village's ledger with filters and totals, and the receipt
form for the 报账员 and the township agency (on a phone too). The engine owns every rule; the
page only asks it (engine/ledger_service.py)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from engine import ledger as books
from engine.errors import Conflict, Forbidden, Invalid

from .common import acting_village, bp, engine, login_required, me, username

BOOKKEEPERS = ("accountant", "agency_accountant")


def _village_code() -> str | None:
    code = request.values.get("village") or acting_village()
    villages = (me() or {}).get("villages") or []
    if not code and villages:
        code = villages[0]["code"]
    return code


@bp.route("/ledger", methods=["GET", "POST"])
@login_required
def ledger_page():
    code = _village_code()
    if code is None:
        raise Forbidden("您没有可查看账目的村")
    form: dict = {}
    errors: dict = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in ("received_on", "entity", "amount", "account", "summary",
                                                              "counterparty", "voucher")}
        try:
            entry = engine().add_receipt(username(), code, {k: v for k, v in form.items() if v != ""})
        except Invalid as exc:
            errors = exc.fields
            flash(exc.message, "error")
        except Conflict as exc:
            flash(exc.message, "error")
        else:
            flash(f"已登记收入 {entry['amount']} 元（分录{entry['id']}）。")
            return redirect(url_for("web.ledger_page", village=code))
    args = request.args
    try:
        data = engine().ledger(username(), code, entity=args.get("entity") or None, start=args.get("from") or None,
                               end=args.get("to") or None, limit=500,
                               offset=max(0, int(args.get("offset") or 0)) if (args.get("offset") or "0").isdigit() else 0)
    except Invalid as exc:
        flash(exc.message, "error")
        data = engine().ledger(username(), code)
    profile = me() or {}
    village = next((v for v in profile.get("villages") or [] if v["code"] == code), {"code": code, "name": code})
    may_write = bool(set(profile.get("roles") or []) & set(BOOKKEEPERS))
    shown = data["offset"] + len(data["entries"])
    next_url = url_for("web.ledger_page", village=code, **{k: args[k] for k in ("entity", "from", "to") if args.get(k)},
                       offset=shown) if data["count"] > shown else None
    return render_template("ledger.html", data=data, village=village, villages=profile.get("villages") or [],
                           entities=books.ENTITIES, accounts=[a for a, (kind, _) in books.CHART.items() if kind != "out"],
                           may_write=may_write, form=form, errors=errors, args=args, next_url=next_url), \
        (422 if errors else 200)
