"""The Engine's calls for complaint leads (问题线索, 速查快办): intake without an account and the
query code, the reporter's photos, the case page's lead block, the holiday schedules. 督办, 一案双查
and the leads desk are ``engine/services/lead_oversight.py``; the rules (deadlines, who may see what)
``engine/records/leads.py``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.authz import Actor
from ..domain.clock import LOCAL_TZ, local_text
from ..domain.errors import Conflict, Invalid, NotFound
from ..process import runtime, workdays
from ..records import evidence as evidence_records
from ..records import notices
from ..records.leads import (
    ACCEPT_DAYS,
    CATEGORIES,
    CHANNELS,
    DISPOSITIONS,
    FIELDS,
    FINDINGS,
    FORWARD_DAYS,
    IDENTITY_ROLES,
    LEAD_PROCESS,
    MAX_LEAD_PHOTOS,
    PHOTO_WINDOW,
    PUBLIC_CHANNELS,
    STATUS,
    grouped,
    iso,
    lead_of_case,
    may_see_identity,
    new_code,
    normal_code,
    set_due_dates,
)
from ..store.models import (
    Attachment,
    BoardEntry,
    Case,
    HolidayDay,
    Lead,
    LeadAccountability,
    TaskRow,
    User,
    Village,
)
from .lead_oversight import accountability_json, may_supervise, supervision_json, text_field


def _int(value: object, label: str, key: str, errors: dict) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        errors[key] = [f"{label}须为正整数编号"]
        return None
    return value


def _message(errors: dict) -> str:
    parts = [f"{FIELDS.get(k, k)}：{v[0]}" for k, v in errors.items()]
    return "问题线索填写有误：" + "；".join(parts)


class LeadsMixin:
    """Engine methods for complaint leads (mixed into ``engine.services.Engine``)."""

    def is_lead_case(self, case) -> bool:
        """Whether ``case`` is a complaint lead (engine/records/evidence.py asks, without importing leads)."""
        return case.definition.key == LEAD_PROCESS

    def lead_handler(self, session, actor, case) -> bool:
        """Whether ``actor`` handles the lead of ``case`` (R60: the 纪检 roles of the jurisdiction)."""
        return may_see_identity(actor, case.village, lead_of_case(session, case.id), case)

    # -- intake ------------------------------------------------------------------------------

    def file_lead(self, body: object, *, username: str | None = None,
                  files: list[tuple[str, bytes]] | None = None) -> dict:
        """A new lead from a reporter (no account) or entered by a 纪委 cadre (``username``), with
        ``files`` (photos or scans: ``(name, bytes)``). Everything is checked before anything is
        written: a bad lead, or a lead with a bad photo, changes nothing."""
        if not isinstance(body, dict):
            raise Invalid("请求正文须为对象", {"text": ["请填写反映内容"]})
        errors: dict[str, list[str]] = {}
        photos = _check_photos(files or [], errors)
        unknown = sorted(set(body) - set(FIELDS))
        for key in unknown:
            errors[key[:50]] = ["不认识的字段"]
        village_code = body.get("village")
        if not isinstance(village_code, str) or not village_code.strip():
            errors["village"] = ["请指定村（village，村的编码）"]
            village_code = None
        text = text_field(body.get("text"), "反映内容", "text", errors, required=True, limit=5000)
        name = text_field(body.get("name"), "姓名", "name", errors, required=False, limit=50)
        contact = text_field(body.get("contact"), "联系方式", "contact", errors, required=False, limit=100)
        category = body.get("category")
        if category in (None, ""):
            category = "other"
        elif isinstance(category, str) and category.strip() in CATEGORIES:
            category = category.strip()
        elif isinstance(category, str) and category.strip() in CATEGORIES.values():
            category = next(k for k, v in CATEGORIES.items() if v == category.strip())
        else:
            allowed = "、".join(f"{k}（{v}）" for k, v in CATEGORIES.items())
            errors["category"] = [f"问题类别只能是：{allowed}"]
        channel = body.get("channel", "web")
        if channel not in CHANNELS:
            allowed = "、".join(f"{k}（{v}）" for k, v in CHANNELS.items())
            errors["channel"] = [f"来源渠道只能是：{allowed}"]
        elif channel not in PUBLIC_CHANNELS and username is None:
            errors["channel"] = ["来电、来信、来访由乡镇纪委工作人员登录后登记"]
        about_case = _int(body.get("case"), "涉及事项", "case", errors)
        about_entry = _int(body.get("entry"), "涉及公开栏条目", "entry", errors)
        to_county = body.get("township_official", False)
        if not isinstance(to_county, bool):
            errors["township_official"] = ["涉及乡镇干部须为 true 或 false"]
        with self.transaction() as session:
            village = None
            if village_code:
                village = session.scalar(select(Village).where(Village.code == village_code.strip()))
                if village is None:
                    errors["village"] = [f"没有编码为“{village_code.strip()[:64]}”的村"]
            actor = self.actor(session, username) if username else None
            if actor is not None and village is not None and channel not in PUBLIC_CHANNELS \
                    and not actor.roles_in(village) & IDENTITY_ROLES:
                errors["channel"] = ["只有本乡镇纪委或县纪委工作人员可以登记来电、来信、来访"]
            if village is not None and about_case is not None:
                linked = session.get(Case, about_case)
                if linked is None or linked.village_id != village.id or linked.definition.key == LEAD_PROCESS:
                    errors["case"] = [f"本村没有编号为{about_case}的事项"]
            if village is not None and about_entry is not None:
                entry = session.get(BoardEntry, about_entry)
                if entry is None or entry.village_id != village.id:
                    errors["entry"] = [f"本村公开栏没有编号为{about_entry}的条目"]
            if errors:
                raise Invalid(_message(errors), errors)
            for photo in photos:
                self.file_store().put(photo["sha256"], photo["data"])  # content-addressed: stored once
            out = self._register_lead(session, village, actor, text=text, name=name, contact=contact,
                                      category=category, channel=channel, about_case=about_case,
                                      about_entry=about_entry, to_county=bool(to_county))
            if photos:
                lead = session.scalar(select(Lead).where(Lead.code == out["code"]))
                self._add_lead_photos(session, lead, photos, actor)
                out["photos"] = len(photos)
            return out

    def _register_lead(self, session: Session, village: Village, actor: Actor | None, **lead_fields) -> dict:
        row = self.catalog.latest_row(session, LEAD_PROCESS)
        deployed = self.catalog.deployed(row)
        now = self.now()
        cal = workdays.Calendar.load(session)
        accept_due, estimated = cal.due(now, ACCEPT_DAYS)  # R57
        forward_due, estimated_forward = cal.due(now, FORWARD_DAYS)  # R56
        code = new_code()
        while session.scalar(select(Lead.id).where(Lead.code == code)) is not None:  # pragma: no cover
            code = new_code()
        number = (session.scalar(select(Lead.id).order_by(Lead.id.desc()).limit(1)) or 0) + 1
        title = f"{village.name}问题线索（{CATEGORIES[lead_fields['category']]}）第{number}号"
        wf = runtime.new_workflow(deployed.spec, deployed.subprocess_specs,
                                  {"case_title": title, "village": village.code})
        runtime.run(wf, self.now)
        case = Case(definition_id=row.id, village_id=village.id, title=title, status="running", state="",
                    created_by=actor.id if actor else None, created_at=now, updated_at=now)
        if lead_fields["to_county"]:  # R60: not that township's inspectors
            case.excluded_users = self._township_inspectors(session, village)
        session.add(case)
        session.flush()
        real_name = bool(lead_fields["name"] and lead_fields["contact"])
        lead = Lead(code=code, case_id=case.id, village_id=village.id, channel=lead_fields["channel"],
                    category=lead_fields["category"], text=lead_fields["text"], name=lead_fields["name"],
                    contact=lead_fields["contact"], real_name=real_name, to_county=lead_fields["to_county"],
                    about_case_id=lead_fields["about_case"], about_entry_id=lead_fields["about_entry"],
                    entered_by=actor.id if actor else None, received_at=now, accept_due=accept_due,
                    forward_due=forward_due, due_estimated=estimated or estimated_forward, status="received")
        session.add(lead)
        session.flush()
        how = f"{CHANNELS[lead.channel]}，{'实名' if real_name else '匿名'}"
        self.audit(session, action="lead", actor=actor, actor_name=None if actor else "反映人", case=case,
                    summary=f"收到问题线索（{how}），受理期限{local_text(accept_due)}"
                            + ("（按周一至周五估算）" if lead.due_estimated else "")
                            + ("，涉及乡镇干部，由县纪委办理" if lead.to_county else ""),
                    data={"lead": lead.id, "channel": lead.channel, "category": lead.category})
        self.sync(session, case, wf, deployed)
        set_due_dates(session, case, lead, now)
        notices.lead_event(session, case, lead.id, overdue=False, now=now)  # the 纪委书记's phone (issue 17)
        return self._lead_public(lead, village)

    def _township_inspectors(self, session: Session, village: Village) -> list[str]:
        from ..store.models import RoleAssignment

        rows = session.execute(select(User.username).join(RoleAssignment, RoleAssignment.user_id == User.id)
                               .where(RoleAssignment.role == "discipline_inspector",
                                      RoleAssignment.township == village.township))
        return sorted({r[0] for r in rows})

    # -- the reporter's side ----------------------------------------------------------------
    def _lead_by_code(self, session: Session, code: object, *, lock: bool = False) -> Lead:
        value = normal_code(code)
        lead = session.scalar(select(Lead).where(Lead.code == value)) if value else None
        if lead is None:
            raise NotFound("没有这个查询码，请核对后重新输入")
        return lead

    def lead_status(self, code: str) -> dict:
        """What the reporter reads under the code: never the name, the contact or the handler."""
        with self.sessions() as session:
            lead = self._lead_by_code(session, code)
            return self._lead_public(lead, session.get(Village, lead.village_id))

    def _lead_public(self, lead: Lead, village: Village) -> dict:
        now = self.now()
        out = {"code": lead.code, "code_display": grouped(lead.code), "status": lead.status,
               "status_name": STATUS.get(lead.status, lead.status), "village": village.code,
               "village_name": village.name, "category": lead.category,
               "category_name": CATEGORIES.get(lead.category, lead.category), "channel": lead.channel,
               "channel_name": CHANNELS.get(lead.channel, lead.channel), "real_name": lead.real_name,
               "received_at": iso(lead.received_at), "accept_due": iso(lead.accept_due),
               "accept_due_estimated": lead.due_estimated}
        if lead.due_estimated:
            out["accept_due_note"] = workdays.estimate_note(lead.accept_due.astimezone(LOCAL_TZ).year)
        if lead.accepted_at:
            out["accepted_at"] = iso(lead.accepted_at)
        if lead.disposition:
            out["disposition"] = lead.disposition

            out["disposition_name"] = DISPOSITIONS.get(lead.disposition, lead.disposition)
        if lead.status in ("not_accepted", "forwarded") and lead.reason:
            out["reason"] = lead.reason
        if lead.finding:

            out["finding"] = lead.finding
            out["finding_name"] = FINDINGS.get(lead.finding, lead.finding)
        if lead.closed_at and lead.status == "closed":
            out["closed_at"] = iso(lead.closed_at)
        if lead.feedback:
            out["feedback"] = lead.feedback
            out["feedback_at"] = iso(lead.feedback_at)
        if lead.objection_at:
            out["objection"] = {"text": lead.objection, "at": iso(lead.objection_at)}
        if lead.review:
            out["review"] = lead.review
        if lead.rating is not None:
            out["rating"] = {"score": lead.rating, "comment": lead.rating_comment or "", "at": iso(lead.rated_at)}
        # the reporter may still send photos (24 hours, before the intake; at most 9: 409 past them)
        out["can_add_photos"] = lead.status == "received" and now - lead.received_at <= PHOTO_WINDOW
        out["can_rate"] = bool(lead.feedback) and lead.rating is None
        out["can_object"] = bool(lead.feedback) and lead.objection_at is None and bool(
            lead.objection_until and now < lead.objection_until)
        if lead.objection_until and out["can_object"]:
            out["objection_until"] = iso(lead.objection_until)
        return out

    def rate_lead(self, code: str, body: object) -> dict:
        body = body if isinstance(body, dict) else {}
        errors: dict[str, list[str]] = {}
        for key in sorted(set(body) - {"score", "comment"}):
            errors[key[:50]] = ["不认识的字段"]
        score = body.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            errors["score"] = ["满意度评分须为1到5的整数"]
        comment = text_field(body.get("comment"), "评价意见", "comment", errors, required=False, limit=1000)
        with self.transaction() as session:
            lead = self._lead_by_code(session, code)
            if errors:
                labels = {"score": "满意度评分", "comment": "评价意见"}
                raise Invalid("评价填写有误：" + "；".join(f"{labels.get(k, k)}：{v[0]}" for k, v in errors.items()),
                              errors)
            if not lead.feedback:
                raise Conflict("办理结果反馈之后才能评价")
            if lead.rating is not None:
                raise Conflict("该线索已经评价过，不能重复评价")
            now = self.now()
            lead.rating, lead.rating_comment, lead.rated_at = score, comment, now
            case = session.get(Case, lead.case_id)
            self.audit(session, action="lead_rating", actor=None, actor_name="反映人", case=case,
                        summary=f"反映人评价：{score}分" + (f"，{comment}" if comment else ""))
            return self._lead_public(lead, session.get(Village, lead.village_id))

    def object_lead(self, code: str, body: object) -> dict:
        """The reporter objects to the result, once: the county reviews it (R57)."""
        body = body if isinstance(body, dict) else {}
        errors: dict[str, list[str]] = {}
        for key in sorted(set(body) - {"text"}):
            errors[key[:50]] = ["不认识的字段"]
        text = text_field(body.get("text"), "异议内容", "text", errors, required=True, limit=5000)
        with self.transaction() as session:
            lead = self._lead_by_code(session, code)
            if errors:
                raise Invalid("异议填写有误：" + "；".join(f"{'异议内容' if k == 'text' else k}：{v[0]}"
                                                     for k, v in errors.items()), errors)
            now = self.now()
            if not lead.feedback:
                raise Conflict("办理结果反馈之后才能提出异议")
            if lead.objection_at is not None:
                raise Conflict("对同一线索的处理结果只能提出一次异议")
            if not lead.objection_until or now >= lead.objection_until:
                raise Conflict("已超过提出异议的期限（反馈后30日内）")
            lock = {"of": Case, "key_share": True} if session.bind.dialect.name == "postgresql" else None
            case = session.get(Case, lead.case_id, with_for_update=lock, populate_existing=True)
            deployed = self.catalog.deployed(case.definition)
            wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
            if not runtime.waiting_for_signal(wf, "lead_objection"):
                raise Conflict("该线索正在办理中，暂不能提出异议")
            lead.objection, lead.objection_at = text, now
            self.audit(session, action="lead_objection", actor=None, actor_name="反映人", case=case,
                        summary="反映人对处理结果提出异议，报县纪委复查")
            runtime.send_signal(wf, "lead_objection", self.now)
            self.sync(session, case, wf, deployed)
            set_due_dates(session, case, lead, now)
            return self._lead_public(lead, session.get(Village, lead.village_id))

    # -- the inspectors' side ---------------------------------------------------------------
    def lead_block(self, session: Session, actor: Actor, case: Case) -> dict | None:
        """The lead on its case and task pages, for those who may see it; the reporter's
        identity only for the 纪检 roles (R60), each such view audited."""
        lead = lead_of_case(session, case.id)
        if lead is None:
            return None
        out = {**self._lead_public(lead, case.village), "id": lead.id, "text": lead.text,
               "to_county": lead.to_county, "forward_due": iso(lead.forward_due),
               "assignment": lead.assignment or {}, "about_case": lead.about_case_id,
               "about_entry": lead.about_entry_id}
        result = session.scalar(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.form == "lead_result",
                                                      TaskRow.state == "completed")
                                .order_by(TaskRow.completed_at.desc()).limit(1))
        if result is not None and (result.data or {}).get("dual_inquiry"):
            out["dual_inquiry"] = result.data["dual_inquiry"]
        out.pop("code_display", None)
        out.pop("code", None)  # the reporter's key stays the reporter's
        if lead.supervised_at is not None:
            out["supervision"] = supervision_json(session, lead)
        handler = may_see_identity(actor, case.village, lead, case)
        out["may_supervise"] = lead.supervised_at is None and may_supervise(actor, case.village, lead, case) \
            and lead.status in ("received", "accepted")
        if handler:
            out["name"] = lead.name or ""
            out["contact"] = lead.contact or ""
            # the reporter's photos and the accountability records: for the handlers only (R60)
            out["photos"] = [{"id": a.id, "name": a.name, "sha256": a.sha256, "size": a.size,
                              "content_type": a.content_type}
                             for a in session.scalars(select(Attachment).where(
                                 Attachment.case_id == case.id, Attachment.uploaded_by.is_(None))
                                 .order_by(Attachment.id))]
            out["accountability"] = [accountability_json(r) for r in session.scalars(
                select(LeadAccountability).where(LeadAccountability.lead_id == lead.id)
                .order_by(LeadAccountability.id))]
            out["may_hold_to_account"] = lead.finding in ("substantiated", "partly")
        return out

    def audit_lead_view(self, actor: Actor, case_id: int, identity: bool) -> None:
        """R60: every view of a lead is on the record (who, when, whether the identity was shown)."""
        with self.transaction() as session:
            case = session.get(Case, case_id)
            self.audit(session, action="read_personal" if identity else "read_lead", actor=actor, case=case,
                        summary="查看问题线索及反映人身份信息" if identity else "查看问题线索")

    # -- the reporter's photos ----------------------------------------------------------------
    def _add_lead_photos(self, session: Session, lead: Lead, photos: list[dict], actor: Actor | None) -> list[dict]:
        """Attach checked photos to the lead's intake step, bound at once (the reporter's evidence
        is never taken back). Named neutrally: a file name could give the reporter away."""
        row = session.scalar(select(TaskRow).where(TaskRow.case_id == lead.case_id, TaskRow.form == "lead_intake")
                             .order_by(TaskRow.created_at).limit(1))
        have = session.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.case_id == lead.case_id, Attachment.uploaded_by.is_(None))) or 0
        now = self.now()
        out = []
        for number, photo in enumerate(photos, start=have + 1):
            att = Attachment(case_id=lead.case_id, task_id=row.id, village_id=lead.village_id, sha256=photo["sha256"],
                             name=f"线索材料{number}{evidence_records.EXTENSIONS[photo['content_type']]}", size=len(photo["data"]),
                             content_type=photo["content_type"], uploaded_by=None, uploaded_at=now, bound_at=now)
            session.add(att)
            session.flush()
            out.append(evidence_records.attachment_json(att))
        case = session.get(Case, lead.case_id)
        self.audit(session, action="lead_photo", actor=actor, actor_name=None if actor else "反映人", case=case,
                    task_id=row.id, summary=f"反映人提供照片或材料{len(photos)}件",
                    data={"attachments": [evidence_records.history_item(a) for a in session.scalars(
                        select(Attachment).where(Attachment.id.in_([o["id"] for o in out])))]})
        return out

    def add_lead_photo(self, code: str, name: str | None, data: bytes, limit: int | None = None) -> dict:
        """A photo or scan sent by the reporter with the query code, within 24 hours of filing and
        before the lead is taken up: 201 ``{id, sha256, name, size, content_type}``; 404 for an
        unknown code, 409 after the window or past the 9th, 413 too large, 422 not JPEG/PNG/PDF."""
        limit = evidence_records.max_upload() if limit is None else limit
        with self.sessions() as session:
            self._photo_window(session, self._lead_by_code(session, code))
        if len(data) > limit:
            raise evidence_records.too_large_error(limit)
        photos = [{"sha256": evidence_records.sha256(data), "content_type": evidence_records.sniff(data), "data": data}]
        self.file_store().put(photos[0]["sha256"], photos[0]["data"])
        with self.transaction() as session:
            lead = self._lead_by_code(session, code)
            self._photo_window(session, lead)
            return self._add_lead_photos(session, lead, photos, None)[0]

    def _photo_window(self, session: Session, lead: Lead) -> None:
        if lead.status != "received" or self.now() - lead.received_at > PHOTO_WINDOW:
            raise Conflict("只能在反映后24小时内、受理之前补充照片；有新的证据请再次反映并注明查询码")
        have = session.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.case_id == lead.case_id, Attachment.uploaded_by.is_(None))) or 0
        if have >= MAX_LEAD_PHOTOS:
            raise Conflict(f"每条线索最多提供{MAX_LEAD_PHOTOS}件照片或材料")

    # -- holiday schedules ------------------------------------------------------------------
    def load_holidays(self, raw: object) -> tuple[int, int]:
        """Load (or replace) one year's State Council schedule; answers ``(year, days)``."""
        year, days = workdays.parse_schedule(raw)
        with self.transaction() as session:
            for row in session.scalars(select(HolidayDay).where(HolidayDay.year == year)):
                session.delete(row)
            session.flush()
            for day, (workday, name) in sorted(days.items()):
                session.add(HolidayDay(day=day.isoformat(), year=year, workday=workday, name=name))
            self.audit(session, action="holidays", actor=None, actor_name="系统管理员",
                        summary=f"载入{year}年节假日安排（{len(days)}天）")
        return year, len(days)

    def holiday_years(self) -> dict:
        with self.sessions() as session:
            loaded = sorted(set(session.scalars(select(HolidayDay.year))))
        known = workdays.library_years()
        return {"library": [known.start, known.stop - 1] if len(known) else [], "loaded": loaded}


def _check_photos(files: list[tuple[str, bytes]], errors: dict, *, limit: int | None = None) -> list[dict]:
    """The reporter's photos checked by content (engine/records/evidence.py: JPEG, PNG or PDF, whole, within
    the size limit); every bad one named under ``file``. Nothing is stored here."""
    limit = evidence_records.max_upload() if limit is None else limit
    if len(files) > MAX_LEAD_PHOTOS:
        errors["file"] = [f"每条线索最多提供{MAX_LEAD_PHOTOS}件照片或材料"]
        return []
    out, problems = [], []
    for number, (name, data) in enumerate(files, start=1):
        label = f"第{number}个文件" + (f"（{evidence_records.clean_name(name, 'image/jpeg').rsplit('.', 1)[0][:40]}）"
                                     if name else "")
        if len(data) > limit:
            problems.append(f"{label}超过大小上限（{evidence_records.sizetext_field(limit)}）")
            continue
        try:
            content_type = evidence_records.sniff(data)
        except Invalid as exc:
            problems.append(f"{label}：{exc.fields['file'][0]}")
            continue
        out.append({"sha256": evidence_records.sha256(data), "content_type": content_type, "data": data})
    if problems:
        errors["file"] = ["；".join(problems)]
    return out
