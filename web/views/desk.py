"""监督台 (the village supervision committee) and 乡镇视图 (township officials and discipline
inspectors), with CSV and Excel exports."""

from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for

from engine.domain.errors import Conflict, Invalid
from engine.domain.money import stored_amount
from engine.domain.roles import TOWNSHIP_ROLES
from engine.services import reports

from .common import acting_village, bp, engine, fmt_time, roles_required, username
from .exports import Sheet, csv_response, xlsx_response


@bp.route("/supervision")
@roles_required("supervisor", message="监督台仅供村务监督委员会成员使用")
def supervision():
    village = request.args.get("village") or acting_village()
    data = reports.supervision(engine(), username(), village)
    return render_template("supervision.html", village=village, **data)


@bp.route("/supervision/hold", methods=["POST"])
@roles_required("supervisor", message="监督台仅供村务监督委员会成员使用")
def supervision_hold():
    try:
        case_id = int(request.form.get("case") or "")
    except ValueError:
        flash("请选择要暂停的事项", "error")
        return redirect(url_for("web.supervision"))
    try:
        engine().hold_case(username(), case_id, request.form.get("reason") or "")
    except (Invalid, Conflict) as exc:
        flash(exc.message, "error")
    else:
        flash("事项已暂停，暂停期间任何人不能办理。")
    return redirect(url_for("web.supervision"))


TOWNSHIP_MESSAGE = "乡镇视图仅供乡镇干部和乡镇纪委使用"


def _township_data() -> dict:
    village = request.args.get("village") or None
    data = reports.township(engine(), username(), village)
    data["village"] = village
    return data


@bp.route("/township")
@roles_required(*TOWNSHIP_ROLES, message=TOWNSHIP_MESSAGE)
def township():
    return render_template("township.html", **_township_data())


@bp.route("/township/notices")
@roles_required("township_official", "discipline_inspector", message=TOWNSHIP_MESSAGE)
def township_notices():
    from engine.records.notices import CHANNEL_NAMES, DESK_STATUSES, KIND_NAMES, KINDS

    args = request.args
    filters = {k: args.get(k) or None for k in ("village", "kind", "channel", "status")}
    desk = engine().township_notices(username(), **filters)
    return render_template("township_notices.html", desk=desk, filters=filters, kinds={k: KIND_NAMES[k] for k in KINDS},
                           channels=CHANNEL_NAMES, statuses=DESK_STATUSES)


SUMMARY_HEAD = ["乡镇", "村", "村编码", "在办事项", "暂停", "逾期环节", "流会", "未通过", "异议（全部）", "待答复异议",
                "已办结事项", "待核查", "核查逾期"]
DETAIL_HEAD = ["类别", "村", "事项", "环节/会议", "状态", "时间", "说明", "链接编号"]


def _summary_rows(data: dict) -> list[list]:
    keys = ("open", "on_hold", "overdue", "lapsed", "failed", "objections", "open_objections", "closed", "inspections",
            "inspections_overdue")
    rows = [[c["township"], c["name"], c["code"], *[c[k] for k in keys]] for c in data["counts"]]
    rows.append(["合计", "", "", *[data["totals"][k] for k in keys]])
    return rows


def _case_rows(data: dict) -> list[list]:
    return [["在办事项", c["village_name"], c["title"], c["stage"], c["status_name"], fmt_time(c["updated_at"]),
             f"{c['process_name']}" + (f"；暂停理由：{c['hold_reason']}" if c.get("hold_reason") else ""),
             f"事项{c['id']}"] for c in data["cases"]]


def _overdue_rows(data: dict) -> list[list]:
    return [["逾期环节", t["village_name"], t["case_title"], t["title"], f"逾期{t['overdue_days']}天",
             fmt_time(t["due_at"]), f"应由{t['role_name']}办理", f"事项{t['case']}"] for t in data["overdue"]]


def _meeting_rows(data: dict) -> list[list]:
    return [[f"会议{m['outcome_name']}", m["village_name"], m["case_title"], m["title"], m["outcome_name"],
             fmt_time(m["at"]), m["reason"], f"事项{m['case']}"] for m in data["meetings"]]


def _objection_rows(data: dict) -> list[list]:
    return [["异议", o["village_name"], o["entry_title"], o["text"], o["decision_name"], fmt_time(o["filed_at"]),
             f"答复：{o['reply']}" if o.get("reply") else "",  # the objector is never named outside the reply
             f"事项{o['case']}" if o.get("case") else f"公开栏{o['entry']}"] for o in data["objections"]]


def _inspection_rows(data: dict) -> list[list]:
    return [["待核查", t["village_name"], t["case_title"], t["title"],
             f"逾期{t['overdue_days']}天" if t["overdue"] else "待核查", fmt_time(t["created_at"]),
             f"{t['cause_kind_name']}（{t['cause_stage']}）：{t['cause']}；期限{fmt_time(t['due_at'])}"
             if t["cause_kind"] else f"期限{fmt_time(t['due_at'])}", f"事项{t['case']}"] for t in data["inspections"]]


OVERRUN_HEAD = ["村", "事项", "决议金额（元）", "实际支出（元）", "超支金额（元）", "超支原因", "完成时间", "链接编号"]


def _amount(value) -> Decimal | None:
    amount = stored_amount(value)
    return amount.quantize(Decimal("0.01")) if amount is not None else None


def _overrun_rows(data: dict) -> list[list]:
    """Money as numbers a spreadsheet can sum (issue 15): Decimal cells, never '250,000.00 元' text."""
    rows = []
    for o in data.get("overruns") or []:
        approved, spent = _amount(o.get("approved")), _amount(o.get("spent"))
        over = spent - approved if approved is not None and spent is not None else None
        rows.append([o["village_name"], o["case_title"], approved, spent, over, o.get("reason") or "",
                     fmt_time(o["at"]), f"事项{o['case']}"])
    return rows


def _filename(data: dict, ext: str) -> str:
    from urllib.parse import quote

    stamp = fmt_time(data["generated_at"], "%Y%m%d-%H%M")
    village = next((v["name"] for v in data.get("villages") or [] if v.get("code") == data.get("village")), None)
    township = "、".join(data.get("townships") or []) or "乡镇"
    name = f"{township}乡镇视图-{village or '全部村'}-{stamp}.{ext}"  # who and when, readable in a folder
    return f"attachment; filename=township-{stamp}.{ext}; filename*=UTF-8''{quote(name)}"


@bp.route("/township/export.csv")
@roles_required(*TOWNSHIP_ROLES, message=TOWNSHIP_MESSAGE)
def township_csv():
    data = _township_data()
    if request.args.get("table") == "detail":
        return csv_response(DETAIL_HEAD, [_case_rows(data), _overdue_rows(data), _meeting_rows(data),
                                           _objection_rows(data), _inspection_rows(data), _photo_rows(data)],
                             _filename(data, "csv"))
    if request.args.get("table") == "overruns":
        return csv_response(OVERRUN_HEAD, [_overrun_rows(data)], _filename(data, "csv"))
    return csv_response(SUMMARY_HEAD, [_summary_rows(data)], _filename(data, "csv"))


@bp.route("/township/export.xlsx")
@roles_required(*TOWNSHIP_ROLES, message=TOWNSHIP_MESSAGE)
def township_xlsx():
    data = _township_data()
    sheets = [Sheet("汇总", SUMMARY_HEAD, _summary_rows(data)), Sheet("在办事项", DETAIL_HEAD, _case_rows(data)),
              Sheet("逾期环节", DETAIL_HEAD, _overdue_rows(data)), Sheet("流会与未通过", DETAIL_HEAD, _meeting_rows(data)),
              Sheet("异议", DETAIL_HEAD, _objection_rows(data)), Sheet("待核查", DETAIL_HEAD, _inspection_rows(data)),
              Sheet("超支的实施", OVERRUN_HEAD, _overrun_rows(data)), Sheet("缺张贴照片", DETAIL_HEAD, _photo_rows(data))]
    return xlsx_response(sheets, _filename(data, "xlsx"))


# -- 县级视图 (the county inspector, 县纪委) ----------------------------------------------------
COUNTY_MESSAGE = "县级视图仅供县纪委使用"


def _county_data() -> dict:
    village = request.args.get("village") or None
    township = request.args.get("township") or None
    data = reports.county(engine(), username(), village, township)
    data["village"] = village
    data["township"] = township
    return data


@bp.route("/county")
@roles_required("county_inspector", "admin", message=COUNTY_MESSAGE)
def county():
    return render_template("county.html", **_county_data())


COUNTY_SUMMARY_HEAD = ["县", "乡镇", "村", "村编码", "办理中", "暂停", "待核查", "核查逾期", "逾期环节", "流会", "未通过",
                       "异议（全部）", "待答复异议", "公开逾期", "问题线索（待受理、办理中）", "线索逾期", "线索督办",
                       "一案双查问责人次", "已办结事项"]
COUNTY_KEYS = ("running", "on_hold", "inspections", "inspections_overdue", "overdue", "lapsed", "failed",
               "objections", "open_objections", "disclosures_overdue", "leads_open", "leads_overdue", "leads_supervised",
               "accountability", "closed")


def _county_summary_rows(data: dict) -> list[list]:
    rows = []
    for t in data["townships"]:
        for c in t["villages"]:
            rows.append([t["county"], t["name"], c["name"], c["code"], *[c[k] for k in COUNTY_KEYS]])
        rows.append([t["county"], t["name"], "小计", "", *[t["totals"][k] for k in COUNTY_KEYS]])
    totals = data["totals"]
    rows.append(["合计", "", "", "", *[totals[k] for k in COUNTY_KEYS]])
    return rows


def _hold_rows(data: dict) -> list[list]:
    return [["暂停", h["village_name"], h["title"], h["stage"], f"{h['hold_level_name']}暂停",
             fmt_time(h["held_since"]), f"暂停人：{h['hold_by_name']}；理由：{h['hold_reason'] or ''}",
             f"事项{h['id']}"] for h in data["holds"]]


def _disclosure_rows(data: dict) -> list[list]:
    return [["公开逾期", t["village_name"], t["case_title"], t["title"], f"逾期{t['overdue_days']}天",
             fmt_time(t["due_at"]), f"应由{t['role_name']}办理", f"事项{t['case']}"] for t in data["disclosures_overdue"]]


def _photo_rows(data: dict) -> list[list]:
    """缺张贴照片 (R44): notices without the photo the item asks for, past the second day after posting."""
    return [["缺张贴照片", m["village_name"], m["case_title"], m["entry_title"], f"逾期{m['overdue_days']}天",
             fmt_time(m["due_at"]), f"{fmt_time(m['posted_at'])}张榜，经办{m['posted_by'] or '—'}；需上传：{m['what']}",
             f"事项{m['case']}"] for m in data.get("photos_missing") or []]


def _lead_rows(data: dict) -> list[list]:
    def note(t: dict) -> str:
        parts = [f"类别：{t['category_name']}"]
        if t["due_at"]:
            parts.append(f"期限{fmt_time(t['due_at'])}")
        if t.get("supervised"):
            parts.append(f"县纪委督办，限{fmt_time(t['supervision_due'], '%Y-%m-%d')}前办结")
        a = t.get("assignment") or {}
        if a:  # 速查快办: 责任单位, 经办人, 完成时限, 完成标准
            parts.append(f"责任单位：{a.get('responsible_unit') or '—'}；经办人：{a.get('handler') or '—'}；"
                         f"完成时限：{a.get('complete_by') or '—'}；完成标准：{a.get('standard') or '—'}")
        if t.get("accountability"):
            parts.append(f"一案双查问责{t['accountability']}人次")
        return "；".join(parts)

    return [["问题线索", t["village_name"], t["title"], t["stage"],
             t["status_name"] + ("（逾期）" if t["overdue"] else ""), fmt_time(t["received_at"]), note(t),
             f"事项{t['case']}"] for t in data["leads"]]


def _county_filename(data: dict, ext: str) -> str:
    from urllib.parse import quote

    stamp = fmt_time(data["generated_at"], "%Y%m%d-%H%M")
    scope = data["village"] or data["township"] or "、".join(data["counties"]) or "全部"
    name = f"县级视图-{scope}-{stamp}.{ext}"
    return f"attachment; filename=county-{stamp}.{ext}; filename*=UTF-8''{quote(name)}"


@bp.route("/county/export.csv")
@roles_required("county_inspector", "admin", message=COUNTY_MESSAGE)
def county_csv():
    data = _county_data()
    if request.args.get("table") == "detail":
        return csv_response(DETAIL_HEAD, [_hold_rows(data), _inspection_rows(data), _overdue_rows(data),
                                           _disclosure_rows(data), _meeting_rows(data), _objection_rows(data),
                                           _lead_rows(data), _photo_rows(data)],
                             _county_filename(data, "csv"))
    return csv_response(COUNTY_SUMMARY_HEAD, [_county_summary_rows(data)], _county_filename(data, "csv"))


@bp.route("/county/export.xlsx")
@roles_required("county_inspector", "admin", message=COUNTY_MESSAGE)
def county_xlsx():
    data = _county_data()
    sheets = [Sheet("汇总", COUNTY_SUMMARY_HEAD, _county_summary_rows(data)), Sheet("暂停", DETAIL_HEAD, _hold_rows(data)),
              Sheet("待核查", DETAIL_HEAD, _inspection_rows(data)), Sheet("逾期环节", DETAIL_HEAD, _overdue_rows(data)),
              Sheet("公开逾期", DETAIL_HEAD, _disclosure_rows(data)),
              Sheet("流会与未通过", DETAIL_HEAD, _meeting_rows(data)), Sheet("异议", DETAIL_HEAD, _objection_rows(data)),
              Sheet("问题线索", DETAIL_HEAD, _lead_rows(data)), Sheet("缺张贴照片", DETAIL_HEAD, _photo_rows(data))]
    return xlsx_response(sheets, _county_filename(data, "xlsx"))
