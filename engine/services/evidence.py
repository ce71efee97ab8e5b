"""The Engine's calls for evidence: uploading to a task, viewing (with the jurisdiction's checks and
the audit), removing, binding to the record when a step completes, and the photos of posted notices
(张贴照片, R44). What a file is and where its bytes live is ``engine/records/evidence.py``."""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, func, select

from ..domain.clock import LOCAL_TZ
from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..forms import base as forms_base
from ..records.evidence import (
    CASE_ATTACHMENTS_KEY,
    IMAGE_TYPES,
    MAX_NOTICE_PHOTOS,
    MAX_PER_TASK,
    SHA256,
    StoreError,
    as_jpeg,
    attachment_json,
    clean_name,
    is_notice,
    max_upload,
    notice_photo_due,
    notice_photo_wanted,
    public_copy,
    refuse,
    sha256,
    size_text,
    sniff,
    thumbnail,
    too_large_error,
)
from .common import by_id


@functools.lru_cache(maxsize=1)
def _case_attachments_statement():
    """Every attachment of one case (``case_id``), oldest first: built once, executed with a bound
    parameter on every completion (no statement construction or cache-key walk per request)."""
    from ..store.models import Attachment

    return select(Attachment).where(Attachment.case_id == bindparam("case_id")).order_by(Attachment.id)


class EvidenceMixin:
    """Methods of :class:`engine.services.Engine` for attachments (one call = one transaction)."""

    #: The file store (``LocalStore``); set by the app (``create_app``).
    files = None

    def file_store(self):
        if self.files is None:
            raise StoreError("没有配置附件存储")
        return self.files

    def _upload_target(self, session, actor, task_id: str, removing: bool = False):
        from ..domain.roles import ROLES
        from ..store.models import Attachment, TaskRow

        row = session.get(TaskRow, task_id) if isinstance(task_id, str) and len(task_id) <= 36 else None
        if row is None:
            raise NotFound(f"没有编号为{task_id}的任务")
        case = self.case_for(session, actor, row.case_id)
        if not actor.may_complete(row.role, row.extra_roles, case.village):
            raise Forbidden(f"“{row.title}”的附件须由{ROLES.get(row.role, row.role)}上传")
        if actor.username in (case.excluded_users or []):
            raise Forbidden("您与本事项有利害关系，依规回避，不能上传附件")
        if row.state != "ready":
            raise Conflict("该任务已经办理，不能再上传附件")
        if case.status == "on_hold" and not getattr(forms_base.FORMS.get(row.form), "releases_hold", False):
            raise Conflict(f"事项已被暂停：{case.hold_reason or ''}".rstrip("："))
        count = session.scalar(select(func.count()).select_from(Attachment).where(Attachment.task_id == row.id)) or 0
        if count >= MAX_PER_TASK and not removing:
            message = f"每个任务最多上传{MAX_PER_TASK}个附件"
            raise Invalid(message, {"file": [message]})
        return row, case

    def upload_attachment(self, username: str, task_id: str, name: str | None, data: bytes,
                          limit: int | None = None) -> dict:
        """Store ``data`` as evidence of the ready task ``task_id``: ``{id, sha256, name, size,
        content_type}``. 403 unless the person may complete the task, 409 once it is done, 413
        over the limit, 422 for anything that is not a whole JPEG, PNG or PDF."""
        from ..store.models import Attachment

        limit = max_upload() if limit is None else limit
        if len(data) > limit:
            raise too_large_error(limit)
        with self.sessions() as session:  # who may, before any work on the bytes
            self._upload_target(session, self.actor(session, username), task_id)
        content_type = sniff(data)
        digest = sha256(data)
        filename = clean_name(name, content_type)
        self.file_store().put(digest, data)  # outside the write lock; the same bytes are stored once
        with self.transaction() as session:
            actor = self.actor(session, username)
            row, case = self._upload_target(session, actor, task_id)
            att = Attachment(case_id=case.id, task_id=row.id, village_id=case.village_id, sha256=digest,
                             name=filename, size=len(data), content_type=content_type, uploaded_by=actor.id,
                             uploaded_at=self.now())
            session.add(att)
            session.flush()
            self.audit(session, action="attach", actor=actor, case=case, task_id=row.id,
                        summary=f"{row.title}：上传附件“{filename}”（{size_text(len(data))}）",
                        data={"attachment": att.id, "sha256": digest, "name": filename, "size": len(data)})
            return attachment_json(att)

    def task_attachments(self, username: str, task_id: str) -> list[dict]:
        """The attachments of one task (bound or still open), for whoever may view its case."""
        from ..store.models import Attachment, TaskRow

        with self.sessions() as session:
            actor = self.actor(session, username)
            row = session.get(TaskRow, task_id) if isinstance(task_id, str) and len(task_id) <= 36 else None
            if row is None:
                raise NotFound(f"没有编号为{task_id}的任务")
            self.case_for(session, actor, row.case_id)
            rows = session.scalars(select(Attachment).where(Attachment.task_id == row.id, Attachment.entry_id.is_(None))
                                   .order_by(Attachment.id))
            return [attachment_json(a) for a in rows]

    def case_attachments(self, session, case_id: int, bound_only: bool = True) -> dict[str, list]:
        """``{task_id: [Attachment, …]}`` of a case, oldest first."""
        from ..store.models import Attachment

        read = session.info.get(CASE_ATTACHMENTS_KEY, {}).get(case_id)
        if read is None:
            stmt = select(Attachment).where(Attachment.case_id == case_id, Attachment.entry_id.is_(None))
            if bound_only:
                stmt = stmt.where(Attachment.bound_at.is_not(None))
            read = session.scalars(stmt.order_by(Attachment.id))
        found: dict[str, list] = {}
        for att in read:
            if att.entry_id is None and (not bound_only or att.bound_at is not None):
                found.setdefault(att.task_id, []).append(att)
        return found

    def handles_evidence(self, session, actor, case) -> bool:
        """Whether ``actor`` handles ``case``: holds, in its village, the role of one of the steps
        of its definition (and is not kept off it)."""
        from ..domain.roles import role_for_lane
        from ..process import runtime

        if actor.username in (case.excluded_users or []):
            return False
        if self.is_lead_case(case):  # R60: the 纪检 roles of the jurisdiction only (engine/records/leads.py)
            return self.lead_handler(session, actor, case)
        roles: set[str] = set()
        deployed = self.catalog.deployed(case.definition)
        for spec in [deployed.spec, *deployed.subprocess_specs.values()]:
            for task_spec in spec.task_specs.values():
                if getattr(task_spec, "manual", False):
                    roles.add(role_for_lane(task_spec.lane) or "")
                    extra = runtime.task_properties(task_spec).get("extra_roles") or ""
                    roles.update(r.strip() for r in extra.split(",") if r.strip())
        return bool(actor.roles_in(case.village) & (roles - {""}))

    def private_evidence(self, case) -> bool:
        """便民服务 (category B): applicants' ID cards and household books; a complaint lead's
        photos and papers (R60: only its handlers, every view audited)."""
        return case.definition.category == "B" or self.is_lead_case(case)

    def attachment(self, username: str, attachment_id: int, *, public_copy_only: bool = False) -> tuple[dict, bytes]:
        """The bytes of an attachment, checked against their hash, for whoever may view the case;
        those of a 便民服务 case only for its handlers, and every such view is audited."""
        from ..store.models import Attachment

        with self.sessions() as session:
            actor = self.actor(session, username)
            att = by_id(session, Attachment, attachment_id)
            if att is None:
                raise NotFound(f"没有编号为{attachment_id}的附件")
            case = self.case_for(session, actor, att.case_id)
            private = self.private_evidence(case)
            lead_case = self.is_lead_case(case)
            if private and not self.handles_evidence(session, actor, case):
                raise Forbidden("问题线索的照片和材料只有办理线索的纪委工作人员可以查看" if lead_case
                                else "便民服务事项的申请材料只有经办人员可以查看")
            meta = attachment_json(att)
        data = self.read_file(meta["sha256"])
        if private:
            with self.transaction() as session:
                self.audit(session, action="read_personal", actor=actor, case=case, task_id=meta["task"],
                            summary=f"{'查看问题线索材料' if lead_case else '查看申请材料'}（附件{meta['id']}“{meta['name']}”）",
                            data={"attachment": meta["id"], "sha256": meta["sha256"]})
        return meta, data

    def attachment_thumbnail(self, username: str, attachment_id: int) -> bytes:
        """A small JPEG of an image attachment (same permissions and audit as the original)."""
        meta, data = self.attachment(username, attachment_id)
        if meta["content_type"] not in IMAGE_TYPES:
            raise NotFound("PDF 文件没有缩略图")
        key = f"thumb-240-{meta['sha256']}.jpg"
        cached = self.file_store().get_derived(key)
        if cached is None:
            cached = thumbnail(data, meta["content_type"])
            self.file_store().put_derived(key, cached)
        return cached

    def attachment_jpeg(self, username: str, attachment_id: int) -> tuple[dict, bytes]:
        """An image attachment as a JPEG a browser shows (a HEIC photo converted; a JPEG as it is),
        with the same permissions and audit as the original."""
        meta, data = self.attachment(username, attachment_id)
        if meta["content_type"] not in IMAGE_TYPES:
            raise NotFound("PDF 文件没有图片视图")
        if meta["content_type"] == "image/jpeg":
            return meta, data
        key = f"jpeg-{meta['sha256']}.jpg"
        cached = self.file_store().get_derived(key)
        if cached is None:
            cached = as_jpeg(data, meta["content_type"])
            self.file_store().put_derived(key, cached)
        return meta, cached

    def public_photo(self, village_code: str, digest: str) -> bytes:
        """The board's copy of a disclosure's photo: only hashes some board entry of the village
        names as its public photos (never an original)."""
        from ..store.models import BoardEntry, Village

        if not SHA256.match(digest or ""):
            raise NotFound("没有这张照片")
        with self.sessions() as session:
            village = session.scalar(select(Village).where(Village.code == village_code))
            if village is None:
                raise NotFound(f"没有编码为“{village_code}”的村")
            named = any(item.get("sha256") == digest for evidence in session.scalars(
                select(BoardEntry.evidence).where(BoardEntry.village_id == village.id,
                                                  BoardEntry.evidence.is_not(None))) for item in evidence or [])
        if not named:
            raise NotFound("没有这张照片")
        return self.read_file(digest)

    def read_file(self, digest: str) -> bytes:
        try:
            data = self.file_store().get(digest)
        except StoreError as exc:
            raise NotFound("附件文件已缺失，请联系管理员运行 cunwu doctor 检查") from exc
        if sha256(data) != digest:
            raise Conflict("附件文件已被改动（与登记的 SHA-256 不符），不能提供；请联系管理员运行 cunwu doctor 检查")
        return data

    def remove_attachment(self, username: str, attachment_id: int) -> dict:
        """Take back an attachment before its step is completed (a wrong photo): whoever may
        complete the task. The removal is audited; the bytes stay in the store (they are named by
        their hash and may be attached elsewhere). Bound evidence cannot be removed (409)."""
        from ..store.models import Attachment

        with self.transaction() as session:
            actor = self.actor(session, username)
            att = by_id(session, Attachment, attachment_id)
            if att is None:
                raise NotFound(f"没有编号为{attachment_id}的附件")
            self.case_for(session, actor, att.case_id)
            if att.bound_at is not None:
                raise Conflict("附件已随办理记入记录，不能删除")
            row, case = self._upload_target(session, actor, att.task_id, removing=True)
            out = attachment_json(att)
            session.delete(att)
            self.audit(session, action="detach", actor=actor, case=case, task_id=row.id,
                        summary=f"{row.title}：撤回未提交的附件“{att.name}”",
                        data={"attachment": out["id"], "sha256": out["sha256"], "name": out["name"]})
            return out

    @staticmethod
    def required_evidence(meta: dict | None, task_name: str) -> str | None:
        """What the item's catalogue entry asks to be uploaded at this step (``evidence:``)."""
        wanted = (meta or {}).get("evidence") or {}
        return wanted.get(task_name) if isinstance(wanted, dict) else None

    def bind_attachments(self, session, row, now, meta: dict | None = None, village=None) -> list[dict]:
        """Bind the open attachments of ``row`` to its record (inside the completing transaction).
        Where the catalogue asks for evidence at this step and the village's settings make it a
        condition (``evidence: required``), a step without any is refused (422 on ``file``)."""

        bound = []
        # Every attachment of the case, in one statement: this step's are bound now, and the answer's
        # history lists the bound ones from the same rows (case_attachments, same transaction).
        # Nothing pending in the session changes which attachments the case has: no autoflush here, so
        # the step's row is written with the rest of the completion in one flush, not in two.
        every = session.info.get(CASE_ATTACHMENTS_KEY, {}).get(row.case_id)  # read with the task (task_with_siblings)
        if every is None:
            with session.no_autoflush:
                every = list(session.scalars(_case_attachments_statement(), {"case_id": row.case_id}))
            session.info.setdefault(CASE_ATTACHMENTS_KEY, {})[row.case_id] = every
        mine = [att for att in every if att.task_id == row.id]
        wanted = self.required_evidence(meta, row.name)
        if wanted and village is not None and (village.settings or {}).get("evidence") == "required" and not mine:
            message = f"需上传：{wanted}（本村规定，提交前须上传）"
            raise Invalid(message, {"file": [message]})
        for att in mine:
            if att.bound_at is None:
                att.bound_at = now
                bound.append({"id": att.id, "sha256": att.sha256, "name": att.name})
        return bound

    def public_evidence(self, session, task_id: str, case=None) -> list[dict]:
        """The board's copies of the images bound to ``task_id`` (the drafted disclosure): stored,
        remembered on the attachment, and named with both hashes for the board entry. A 便民服务
        case puts no photo on the board: its papers are the applicant's."""
        from ..store.models import Attachment

        if case is not None and self.private_evidence(case):
            return []
        out = []
        for att in session.scalars(select(Attachment).where(Attachment.task_id == task_id, Attachment.entry_id.is_(None),
                                                            Attachment.bound_at.is_not(None)).order_by(Attachment.id)):
            if att.content_type not in IMAGE_TYPES:
                continue
            if att.public_sha256 is None:
                copy = public_copy(self.read_file(att.sha256), att.content_type)
                att.public_sha256 = sha256(copy)
                self.file_store().put(att.public_sha256, copy)
            out.append({"name": att.name, "sha256": att.public_sha256, "original": att.sha256})
        return out


    # -- 张贴照片: the photo of a posted notice (R44 一码一工程) ---------------------------------------
    def _posting_steps(self, session, entry) -> list:
        """The completed steps that put ``entry`` on the board: the one whose completion posted it
        (the 监委会's approval, or a disclosure that posts itself) and the newest drafted
        disclosure before it. Whoever may do either is "the poster" of the notice. Found through
        the audit: the entry's ``post`` event follows, in the same transaction, the ``complete``
        event of the step that posted it (times alone cannot tell steps done in the same second)."""
        from ..store.models import AuditEvent, TaskRow

        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.case_id == entry.case_id, AuditEvent.action.in_(("complete", "post"))).order_by(AuditEvent.id)))
        post = next((e for e in events if e.action == "post" and (e.data or {}).get("entry") == entry.id), None)
        before = [e for e in events if e.action == "complete" and e.task_id and (post is None or e.id < post.id)]
        rows = {r.id: r for r in session.scalars(select(TaskRow).where(
            TaskRow.id.in_({e.task_id for e in before} or {""}), TaskRow.role != ""))}
        posted = rows.get(before[-1].task_id) if before else None
        drafted = next((rows[e.task_id] for e in reversed(before)
                        if e.task_id in rows and rows[e.task_id].form == "disclosure"), None)
        return [r for r in dict.fromkeys((posted, drafted)) if r is not None]

    def _notice_target(self, session, actor, entry_id):
        from ..store.models import Attachment, BoardEntry

        entry = by_id(session, BoardEntry, entry_id)
        if entry is None:
            raise NotFound(f"公开栏没有编号为{entry_id}的条目")
        if not is_notice(entry) or entry.case_id is None:
            raise Conflict("只有事项张榜公布的公示才补传张贴照片")
        case = self.case_for(session, actor, entry.case_id)
        steps = self._posting_steps(session, entry)
        if actor.username in (case.excluded_users or []):
            raise Forbidden("您与本事项有利害关系，依规回避，不能上传张贴照片")
        if not any(actor.may_complete(r.role, r.extra_roles, case.village) for r in steps):
            raise Forbidden("张贴照片须由张榜公布该公示的人员（拟定公开内容或审核张榜的人员）上传")
        count = session.scalar(select(func.count()).select_from(Attachment).where(Attachment.entry_id == entry.id)) or 0
        if count >= MAX_NOTICE_PHOTOS:
            message = f"每条公示最多上传{MAX_NOTICE_PHOTOS}张张贴照片"
            raise Invalid(message, {"file": [message]})
        return entry, case, steps[0]

    def add_notice_photo(self, username: str, entry_id: int, name: str | None, data: bytes,
                         limit: int | None = None) -> dict:
        """The photo of a posted notice on the board (张贴照片, R44): by whoever posted it (may draft
        or approve it), any time after posting (due within :data:`NOTICE_PHOTO_DAYS` days). The
        original is kept as evidence; its copy without location data (none for a 便民服务 case) and
        both hashes go on the board as a new chained entry (kind ``photo``) that refers to the
        notice, so the notice's own entry and hash never change and the chain stays valid."""
        from ..domain.clock import local_text
        from ..records import publicity
        from ..store.models import Attachment

        limit = max_upload() if limit is None else limit
        if len(data) > limit:
            raise too_large_error(limit)
        with self.sessions() as session:  # who may, before any work on the bytes
            _entry, case, _step = self._notice_target(session, self.actor(session, username), entry_id)
            private = self.private_evidence(case)
        content_type = sniff(data)
        if content_type not in IMAGE_TYPES:
            raise refuse("张贴照片须是照片（JPEG、PNG 或手机的 HEIC），不能是 PDF")
        digest = sha256(data)
        filename = clean_name(name, content_type)
        self.file_store().put(digest, data)
        copy_digest = None
        if not private:  # a 便民服务 notice's photo stays off the public board (the applicant's matter)
            copy = public_copy(data, content_type)
            copy_digest = sha256(copy)
            self.file_store().put(copy_digest, copy)
        with self.transaction() as session:
            actor = self.actor(session, username)
            entry, case, step = self._notice_target(session, actor, entry_id)
            now = self.now()
            due = notice_photo_due(entry.posted_at)
            att = Attachment(case_id=case.id, task_id=step.id, village_id=case.village_id, sha256=digest,
                             name=filename, size=len(data), content_type=content_type, public_sha256=copy_digest,
                             uploaded_by=actor.id, uploaded_at=now, bound_at=now, entry_id=entry.id)
            session.add(att)
            session.flush()
            late = now > due
            photo = publicity.post(
                session, case.village, kind="photo", title=f"{entry.title}·张贴照片"[:300],
                content=f"第{entry.seq}号公示“{entry.title}”（{local_text(entry.posted_at)}张榜）的张贴照片，"
                        f"{actor.name}于{local_text(now)}上传" + ("（超过张榜后2日的期限）" if late else "")
                        + ("。便民服务事项的照片不在公开栏展示，原件存档备查。" if private else "。"),
                posted_at=now, posted_by=actor.name, case_id=case.id, refers_to_id=entry.id,
                evidence=[{"name": filename, **({"sha256": copy_digest} if copy_digest else {}), "original": digest}])
            # A "post" event like every board entry's (doctor matches entries to them by id and hash).
            self.audit(session, action="post", actor=actor, case=case,
                        summary=f"上传公示“{entry.title}”的张贴照片“{filename}”" + ("（逾期）" if late else ""),
                        data={"entry": photo.id, "hash": photo.hash, "notice": entry.id, "attachment": att.id,
                              "sha256": digest, "public_sha256": copy_digest})
            return {**attachment_json(att), "entry": entry.id, "photo_entry": photo.id,
                    "public_sha256": copy_digest, "due_at": due.isoformat(), "late": late}

    def notice_photos(self, session, case, actor=None) -> dict[int, dict]:
        """``{entry id: status}`` of the case's notices: what the item asks (``wanted``), when it
        is due, the photos so far, whether it is overdue and whether ``actor`` may add one."""
        from ..store.models import BoardEntry

        entries = list(session.scalars(select(BoardEntry).where(BoardEntry.case_id == case.id).order_by(BoardEntry.seq)))
        wanted = notice_photo_wanted(case.definition.meta)
        now = self.now()
        out = {}
        for entry in entries:
            if not is_notice(entry):
                continue
            photos = [e for e in entries if e.kind == "photo" and e.refers_to_id == entry.id]
            superseded = any(e.kind == entry.kind and e.refers_to_id == entry.id for e in entries)
            due = notice_photo_due(entry.posted_at)
            may = False
            if actor is not None and actor.username not in (case.excluded_users or []):
                may = any(actor.may_complete(r.role, r.extra_roles, case.village)
                          for r in self._posting_steps(session, entry))
            out[entry.id] = {
                "wanted": wanted if not superseded else None, "due_at": due,
                "photos": [{"entry": p.id, "seq": p.seq, "posted_at": p.posted_at, "posted_by": p.posted_by,
                            "evidence": p.evidence or []} for p in photos],
                "overdue": bool(wanted and not superseded and not photos and now > due),
                "overdue_days": (now.astimezone(LOCAL_TZ).date() - due.astimezone(LOCAL_TZ).date()).days
                if now > due else 0,
                "may_upload": may and len(photos) < MAX_NOTICE_PHOTOS,
            }
        return out

    def case_notice_photos(self, username: str, case_id: int) -> dict[int, dict]:
        with self.sessions() as session:
            actor = self.actor(session, username)
            case = self.case_for(session, actor, case_id)
            return self.notice_photos(session, case, actor)
