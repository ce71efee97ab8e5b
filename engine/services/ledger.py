"""The engine's ledger calls (三资, 村财乡管; CONTRACT "The ledger"): read a village's books,
enter a receipt, reverse an entry. Mixed into :class:`engine.services.Engine`; the rules and
the statement live in :mod:`engine.records.ledger_chart`, ``ledger_entries``, ``ledger_months`` and ``ledger_statement``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..process import runtime
from ..records import contract_register, ledger_chart, ledger_entries, ledger_months, ledger_statement
from ..store.models import Case, LedgerContract, LedgerEntry, LedgerPeriod, ProcessDefinition, Village

#: Who enters receipts and corrections: the village's 报账员 and the township agency (DOMAIN §4.2).
BOOKKEEPERS = {"accountant", "agency_accountant"}


class LedgerMixin:
    def ledger_village(self, session, username: str, code: str, *, write: bool = False):
        actor = self.actor(session, username)
        village = self.village(session, code)
        roles = actor.roles_in(village)
        if not roles:
            raise Forbidden("您无权查看其他村的账目")
        if write and not roles & BOOKKEEPERS:
            raise Forbidden("只有本村报账员或乡镇三资委托代理服务中心可以登记账目")
        return actor, village

    def ledger(self, username: str, code: str, *, entity: str | None = None, start: str | None = None,
               end: str | None = None, limit: int = 1000, offset: int = 0) -> dict:
        """``{entries, totals: {in, out}}`` of a village (CONTRACT), filtered by entity and dates
        (inclusive). Entries oldest first, ``limit`` at a time; the totals cover the whole filter."""
        errors: dict[str, list[str]] = {}
        if entity not in (None, "") and entity not in ledger_chart.ENTITIES:
            errors["entity"] = ["核算主体只能是 committee（村民委员会）或 cooperative（村集体经济组织）"]
        dates: dict[str, date | None] = {"from": None, "to": None}
        for key, raw, label in (("from", start, "起始日期"), ("to", end, "截止日期")):
            if raw not in (None, ""):
                try:
                    dates[key] = ledger_chart.parse_date(raw, key, label)
                except Invalid as exc:
                    errors.update(exc.fields)
        if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
            errors["to"] = ["截止日期不能早于起始日期"]
        if errors:
            raise Invalid("查询条件有误：" + next(iter(errors.values()))[0], errors)
        with self.sessions() as session:
            _, village = self.ledger_village(session, username, code)
            rows, count = ledger_entries.entries(session, village, entity or None, dates["from"], dates["to"], limit, offset)
            totals = ledger_months.totals(session, village, entity or None, dates["from"], dates["to"])
            return {"village": village.code, "village_name": village.name, "entity": entity or None,
                    "from": start or None, "to": end or None, "entries": rows, "count": count,
                    "limit": limit, "offset": offset,
                    "totals": {"in": ledger_chart.money(totals["in"]), "out": ledger_chart.money(totals["out"])}}

    def add_receipt(self, username: str, code: str, data: dict) -> dict:
        if not isinstance(data, dict):
            raise Invalid("请求正文必须是对象", {"data": ["请求正文必须是 JSON 对象"]})
        with self.transaction() as session:
            actor, village = self.ledger_village(session, username, code, write=True)
            now = self.now()
            values = ledger_entries.validate_receipt(data, village, now)
            if values.get("contract") is not None:
                contract = session.get(LedgerContract, values["contract"])
                if contract is None or contract.village_id != village.id:
                    raise Invalid(f"本村没有编号为{values['contract']}的合同", {"contract": ["本村没有这份合同"]})
                if contract.entity != values["entity"]:
                    message = f"合同{contract.id}属于{ledger_chart.ENTITIES[contract.entity]}，收款须记入同一核算主体"
                    raise Invalid(message, {"entity": [message]})
            if ledger_statement.period_posted(session, village, values["received_on"]):
                period = ledger_statement.period_of(village, values["received_on"])
                message = f"{period.title}的财务已公开，不能再登记该期间的收入；请按实际入账日期登记在本期"
                raise Invalid(message, {"received_on": [message]})
            entry = ledger_entries.add_receipt(session, village, values, actor_id=actor.id, actor_name=actor.name, now=now)
            if values.get("contract") is not None:  # collected: its reminders are read once nothing is due
                from ..records.receivables import clear_if_paid

                clear_if_paid(session, contract, village, now)
            self.audit(session, action="ledger_receipt", actor=actor, village_id=village.id,
                        summary=f"登记收入：{ledger_chart.ENTITIES[entry.entity]} {entry.account} "
                                f"{ledger_chart.money(entry.amount)}元（{entry.summary}）",
                        data={"entry": entry.id, "amount": ledger_chart.money(entry.amount), "entity": entry.entity})
            return ledger_entries.entry_json(entry)

    def reverse_entry(self, username: str, code: str, entry_id: int, reason: str) -> dict:
        """冲销 a receipt entered by mistake (R62: a new red entry, the old one stays as it was).
        A payment's entry is corrected through its case (the payment step done again)."""
        with self.transaction() as session:
            actor, village = self.ledger_village(session, username, code, write=True)
            if not isinstance(reason, str) or not reason.strip():
                raise Invalid("请填写冲销原因", {"reason": ["请填写冲销原因"]})
            if len(reason) > 500:
                raise Invalid("冲销原因不能超过500字", {"reason": ["冲销原因不能超过500字"]})
            entry = session.get(LedgerEntry, entry_id) if 0 < entry_id < 2**31 else None
            if entry is None or entry.village_id != village.id:
                raise NotFound(f"本村账目中没有编号为{entry_id}的分录")
            if entry.task_id is not None:
                raise Conflict(f"分录{entry.id}是事项{entry.case_id}的支付记录，须在该事项中更正支付环节")
            now = self.now()
            # Dated with the entry while its period's 财务公开 is not posted (the corrected
            # statement is what the supervisors review), else in the current period.
            on = ledger_chart.local_today(now) if ledger_statement.period_posted(session, village, entry.entry_date) \
                else entry.entry_date
            red = ledger_entries.reverse(session, entry, reason=reason.strip(), on=on,
                                 actor_id=actor.id, actor_name=actor.name, now=now)
            self.audit(session, action="ledger_reversal", actor=actor, village_id=village.id,
                        summary=f"冲销分录{entry.id}：{reason.strip()}", data={"entry": red.id, "reverses": entry.id})
            return ledger_entries.entry_json(red)

    def ledger_entry(self, username: str, code: str, entry_id: int) -> dict:
        with self.sessions() as session:
            _, village = self.ledger_village(session, username, code)
            entry = session.get(LedgerEntry, entry_id) if 0 < entry_id < 2**31 else None
            if entry is None or entry.village_id != village.id:
                raise NotFound(f"本村账目中没有编号为{entry_id}的分录")
            by = session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id))
            return ledger_entries.entry_json(entry, by)

    # -- the periodic 财务公开 (finance-disclosure) ----------------------------------------------
    def open_finance_disclosures(self) -> int:
        """Open the ``finance-disclosure`` case of every village for every period that has
        ended since the process was deployed (R26: at least quarterly; monthly where the
        village's ``ledger.monthly`` setting says so). Each village's period is claimed by a
        unique row (``ledger_period``) in the transaction that opens its case, so however many
        workers run this at once, each period is opened once per village."""
        import logging

        from sqlalchemy.exc import IntegrityError

        opened = 0
        with self.sessions() as session:
            since = session.scalar(select(func.min(ProcessDefinition.deployed_at)).where(
                ProcessDefinition.key == ledger_chart.FINANCE_PROCESS))
            if since is None:
                return 0
            now = self.now()
            villages = list(session.execute(select(Village.id, Village.settings)).all())
            done = {(v, p) for v, p in session.execute(select(LedgerPeriod.village_id, LedgerPeriod.period))}
        for village_id, settings in villages:
            monthly = bool((settings or {}).get("ledger.monthly"))
            for period in ledger_statement.periods_between(since, now, monthly=monthly):
                if (village_id, period.key) in done:
                    continue
                try:
                    with self.transaction() as session:
                        village = session.get(Village, village_id)
                        self._open_finance_case(session, village, period, actor=None)
                        opened += 1
                except Conflict:  # another worker claimed it first
                    continue
                except IntegrityError:
                    continue
                except Exception:  # noqa: BLE001 - one village must not stop the others
                    logging.getLogger("cunwu.timers").exception("财务公开事项发起失败：村%s %s", village_id,
                                                                period.key)
        return opened

    def start_finance_disclosure(self, username: str, village_code: str, data: dict) -> dict:
        """The 报账员 opens a period's disclosure by hand (a period the worker has not opened
        yet, e.g. before the process was deployed); ``data.period`` is ``2026Q1`` or ``2026-01``."""
        with self.transaction() as session:
            actor = self.actor(session, username)
            village = self.village(session, village_code)
            if "accountant" not in actor.roles_in(village):
                raise Forbidden("只有本村报账员可以发起财务公开")
            now = self.now()
            raw = (data or {}).get("period")
            if raw in (None, ""):
                period = ledger_statement.last_closed_period(now, bool((village.settings or {}).get("ledger.monthly")))
            else:
                try:
                    period = ledger_statement.parse_period(raw) if isinstance(raw, str) else None
                except ValueError:
                    period = None
                if period is None:
                    raise Invalid("公开期间须写成 2026Q1（季度）或 2026-01（月份）",
                                  {"period": ["公开期间须写成 2026Q1（季度）或 2026-01（月份）"]})
                if period.ends_at > now:
                    raise Invalid(f"{period.title}尚未结束，不能公开", {"period": [f"{period.title}尚未结束"]})
            case = self._open_finance_case(session, village, period, actor=actor)
            return self.case_json(session, case)

    def _open_finance_case(self, session, village: Village, period: ledger_statement.Period, *, actor) -> Case:
        existing = session.scalar(select(LedgerPeriod).where(LedgerPeriod.village_id == village.id,
                                                             LedgerPeriod.period == period.key))
        if existing is not None:
            raise Conflict(f"{village.name}{period.title}的财务公开已发起（事项{existing.case_id}）")
        now = self.now()
        claim = LedgerPeriod(village_id=village.id, period=period.key, opened_at=now)
        session.add(claim)
        session.flush()  # the unique (village, period): a second worker stops here
        row = self.catalog.latest_row(session, ledger_chart.FINANCE_PROCESS)
        deployed = self.catalog.deployed(row)
        title = f"{period.title}财务公开"
        wf = runtime.new_workflow(deployed.spec, deployed.subprocess_specs,
                                  {"case_title": title, "village": village.code, "period": period.key})
        runtime.run(wf, self.now)
        case = Case(definition_id=row.id, village_id=village.id, title=title, status="running", state="",
                    created_by=actor.id if actor else None, created_at=now, updated_at=now)
        session.add(case)
        session.flush()
        claim.case_id = case.id
        st = ledger_statement.statement(session, village, period)
        self.audit(session, action="start", actor=actor, case=case,
                    summary=f"{'系统按期' if actor is None else ''}生成{title}表：本期收入{ledger_chart.money(st.totals['in'])}元，"
                            f"支出{ledger_chart.money(st.totals['out'])}元",
                    data={"period": period.key, "totals": st.as_data()["totals"]})
        self.sync(session, case, wf, deployed)
        return case

    def _finance_period(self, session, case: Case) -> ledger_statement.Period:
        key = session.scalar(select(LedgerPeriod.period).where(LedgerPeriod.case_id == case.id))
        if key is None:
            raise Conflict("找不到本事项对应的公开期间")
        return ledger_statement.parse_period(key)

    def case_statement(self, session, case: Case) -> dict:
        """The statement of a finance-disclosure case's period, as the books stand now."""
        st = ledger_statement.statement(session, case.village, self._finance_period(session, case))
        return {**st.as_data(), "text": st.text()}

    def finance_posting(self, session, case: Case, now, notice_days: int) -> dict:
        """The board entry of an approved statement: the period in its title, the totals and
        the statement (per entity, by account, balances, large items) in its content, generated
        from the ledger at the moment of approval (R27: what the supervisors approved)."""
        from datetime import timedelta

        from ..store.models import BoardEntry

        period = self._finance_period(session, case)
        st = ledger_statement.statement(session, case.village, period)
        previous = session.scalar(select(BoardEntry).where(
            BoardEntry.case_id == case.id, BoardEntry.kind == "finance").order_by(BoardEntry.seq.desc()).limit(1))
        title = f"{period.title}财务公开"
        return {"kind": "finance", "title": title if previous is None else f"{title}（更正后重新公示）",
                "content": st.text(), "notice_until": now + timedelta(days=notice_days),
                "posted_by": "报账员" if case.created_by is None else "", "refers_to": previous.id if previous else None,
                "evidence": None, "statement": st.as_data()}

    # -- the township and county desk ---------------------------------------------------------
    def ledger_overview(self, username: str) -> list[dict]:
        """Per village in this person's scope: income, spending and balance of the books, the
        payments waiting for the agency (R37) and the 财务公开 not yet posted (应公开未公开, with
        those past their due date), for the township and county desks."""
        from sqlalchemy import or_

        from ..store.models import TaskRow

        with self.sessions() as session:
            actor = self.actor(session, username)
            stmt = select(Village)
            if not actor.is_admin():
                scope = [Village.id.in_(actor.village_ids() or {-1})]
                if actor.townships():
                    scope.append(Village.township.in_(actor.townships()))
                if actor.counties():
                    scope.append(Village.county.in_(actor.counties()))
                stmt = stmt.where(or_(*scope))
            villages = list(session.scalars(stmt.order_by(Village.township, Village.code)))
            ids = [v.id for v in villages] or [-1]
            sums: dict = {}
            for vid, direction, total in session.execute(
                    select(LedgerEntry.village_id, LedgerEntry.direction, func.sum(LedgerEntry.amount))
                    .where(LedgerEntry.village_id.in_(ids)).group_by(LedgerEntry.village_id, LedgerEntry.direction)):
                sums[(vid, direction)] = total
            now = self.now()
            waiting: dict = {}
            for vid, _due in session.execute(select(TaskRow.village_id, TaskRow.due_at).where(
                    TaskRow.village_id.in_(ids), TaskRow.state == "ready", TaskRow.form == "agency_review")):
                waiting[vid] = waiting.get(vid, 0) + 1
            due_rows: dict = {}
            finance = select(ProcessDefinition.id).where(ProcessDefinition.key == ledger_chart.FINANCE_PROCESS)
            for vid, title, due_at in session.execute(
                    select(Case.village_id, Case.title, TaskRow.due_at).join(TaskRow, TaskRow.case_id == Case.id).where(
                        Case.village_id.in_(ids), Case.definition_id.in_(finance), TaskRow.state == "ready",
                        TaskRow.form.in_(("review", "statement_reply")))):
                due_rows.setdefault(vid, []).append({"title": title, "overdue": bool(due_at and due_at < now)})
            contracts = list(session.scalars(select(LedgerContract).where(LedgerContract.village_id.in_(ids))))
            received = contract_register.received_by_contract(session, [c.id for c in contracts])
            today = ledger_chart.local_today(now)
            owed: dict = {}
            for c in contracts:
                r = contract_register.receivable(c, received.get(c.id, Decimal(0)), today)
                owed[c.village_id] = owed.get(c.village_id, Decimal(0)) + Decimal(r["outstanding"])
            out = []
            for v in villages:
                income = (sums.get((v.id, "in")) or Decimal(0))
                spending = (sums.get((v.id, "out")) or Decimal(0))
                out.append({"code": v.code, "name": v.name, "township": v.township, "in": ledger_chart.money(income),
                            "out": ledger_chart.money(spending), "balance": ledger_chart.money(income - spending),
                            "agency_waiting": waiting.get(v.id, 0), "disclosures_due": due_rows.get(v.id, []),
                            "outstanding": ledger_chart.money(owed.get(v.id, Decimal(0))),
                            "disclosures_overdue": sum(1 for d in due_rows.get(v.id, []) if d["overdue"])})
            return out

    def finance_statement(self, username: str, code: str, period: str | None = None) -> ledger_statement.Statement:
        """村级财务公开表 of one period (default: the newest that has ended)."""
        with self.sessions() as session:
            _, village = self.ledger_village(session, username, code)
            if period:
                try:
                    chosen = ledger_statement.parse_period(period)
                except ValueError:
                    raise Invalid("期间须写成 2026Q1（季度）或 2026-01（月份）",
                                  {"period": ["期间须写成 2026Q1 或 2026-01"]}) from None
            else:
                chosen = ledger_statement.last_closed_period(self.now(), bool((village.settings or {}).get("ledger.monthly")))
            return ledger_statement.statement(session, village, chosen)

    # -- the contracts register (发包, 租赁, 承包; R40) ------------------------------------------------
    def add_contract(self, username: str, code: str, data: dict) -> dict:
        if not isinstance(data, dict):
            raise Invalid("请求正文必须是对象", {"data": ["请求正文必须是 JSON 对象"]})
        with self.transaction() as session:
            actor, village = self.ledger_village(session, username, code, write=True)
            values = contract_register.validate_contract(data)
            if values["case"] is not None:
                case = session.get(Case, values["case"])
                if case is None or case.village_id != village.id:
                    raise Invalid(f"本村没有编号为{values['case']}的事项", {"case": ["本村没有这个事项"]})
            now = self.now()
            contract = LedgerContract(
                village_id=village.id, entity=values["entity"], kind=values["kind"], subject=values["subject"],
                counterparty=values["counterparty"], starts_on=values["starts_on"], ends_on=values["ends_on"],
                amount=values["amount"], every_months=values["every_months"], account=values["account"],
                case_id=values["case"], created_at=now, created_by_name=actor.name)
            asset = None
            if values["asset"] is not None:
                from ..records import assets

                asset = assets.locked_asset(session, village, values["asset"])
                if asset.status == "disposed":
                    message = f"资产资源“{asset.name}”已处置，不能再签订合同"
                    raise Invalid(message, {"asset": [message]})
                if asset.entity != contract.entity:
                    message = f"资产资源“{asset.name}”属于{ledger_chart.ENTITIES[asset.entity]}，合同须为同一核算主体"
                    raise Invalid(message, {"entity": [message]})
                contract.asset_id = asset.id
            session.add(contract)
            session.flush()
            if asset is not None:  # the asset is let, contracted out or sold: its status follows
                assets.change_status(session, asset, assets.STATUS_OF_KIND[contract.kind], by=actor.name, now=now,
                                     reason=f"登记{contract_register.CONTRACT_KINDS[contract.kind]}合同（合同{contract.id}，"
                                            f"{contract.counterparty}）", contract_id=contract.id)
            self.audit(session, action="ledger_contract", actor=actor, village_id=village.id,
                        summary=f"登记合同：{contract_register.CONTRACT_KINDS[contract.kind]} {contract.subject}（{contract.counterparty}，"
                                f"每{contract.every_months}个月{ledger_chart.money(contract.amount)}元）",
                        data={"contract": contract.id})
            return contract_register.contract_json(contract, Decimal(0), ledger_chart.local_today(now))

    def contracts(self, username: str, code: str) -> list[dict]:
        """The village's contracts with what is due, received and 应收未收 today."""
        with self.sessions() as session:
            _, village = self.ledger_village(session, username, code)
            rows = list(session.scalars(select(LedgerContract).where(LedgerContract.village_id == village.id)
                                        .order_by(LedgerContract.id)))
            received = contract_register.received_by_contract(session, [c.id for c in rows])
            today = ledger_chart.local_today(self.now())
            return [contract_register.contract_json(c, received.get(c.id, Decimal(0)), today) for c in rows]
