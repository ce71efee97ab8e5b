"""Notices and the inbox: delivery, the township's notice desk, a person's notifications and preferences.

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from sqlalchemy import select, update

from ..domain.errors import Forbidden
from ..records import notices
from ..store.models import User, Village


class NotificationsMixin:
    def deliver_notices(self, channels, **kw) -> dict[str, int]:
        """Send the outbox to the configured channels (``cunwu worker``; engine.records.delivery)."""
        from ..records import delivery

        return delivery.deliver(self.sessions, self.now, channels, **kw)

    def notice_desk(self, username: str) -> dict:
        """The admin's view of the outbox: counts and what failed (``/admin/notices``)."""
        from ..records import delivery

        with self.sessions() as session:
            if not self.actor(session, username).is_admin():
                raise Forbidden("通知发送情况仅供系统管理员查看")
            return delivery.desk(session)

    def township_notices(self, username: str, **filters) -> dict:
        """What was sent about the villages of one's township (township officials and 纪委)."""
        with self.sessions() as session:
            actor = self.actor(session, username)
            villages = [v for v in session.scalars(select(Village).order_by(Village.township, Village.code))
                        if actor.roles_in(v) & notices.DESK_ROLES]
            if not villages:
                raise Forbidden("通知发送情况仅供乡镇干部和乡镇纪委查看")
            out = notices.sent_desk(session, actor, villages, **filters)
            out["villages"] = [{"code": v.code, "name": v.name, "township": v.township} for v in villages]
            out["townships"] = sorted({v.township for v in villages})
            return out

    def resend_notice(self, username: str, message_id: int) -> None:
        from ..records import delivery

        with self.transaction() as session:
            actor = self.actor(session, username)
            if not actor.is_admin():
                raise Forbidden("只有系统管理员可以重发通知")
            m = delivery.resend(session, message_id, self.now())
            self.audit(session, action="resend_notice", actor=actor, summary=f"重发通知（{m.channel}）：{m.subject}",
                        data={"outbox": m.id})

    # -- the inbox ------------------------------------------------------------------------
    def notifications(self, username: str) -> list[dict]:
        with self.sessions() as session:
            return notices.inbox(session, self.actor(session, username).id)

    def unread_notifications(self, username: str) -> int:
        with self.sessions() as session:
            return notices.unread(session, self.actor(session, username).id)

    def notice_preferences(self, username: str) -> dict:
        """The person's own notice preferences and where notices can reach them."""
        with self.sessions() as session:
            user = session.get(User, self.actor(session, username).id)
            return {**notices.preferences(user), "contact": {"phone": user.phone, "email": user.email}}

    def set_notice_preferences(self, username: str, raw: dict) -> dict:
        """Change one's own preferences (keys not given keep their value); audited."""
        changes = notices.check_preferences(raw)
        with self.transaction() as session:
            actor = self.actor(session, username)
            user = session.get(User, actor.id)
            before = notices.preferences(user)
            user.notice_prefs = {**before, **changes}
            after = notices.preferences(user)
            if after["digest_hour"] != before["digest_hour"]:  # what waits for the digest follows the new choice
                from ..store.models import OutboxMessage

                when = (notices.next_digest(self.now(), after["digest_hour"]) if after["digest_hour"] is not None
                        else self.now())
                session.execute(update(OutboxMessage).where(OutboxMessage.user_id == user.id,
                                                            OutboxMessage.status == "digest").values(next_at=when))
            if after != before:
                self.audit(session, action="notice_prefs", actor=actor, summary="修改通知设置：" + notices.describe(after),
                            data={"before": before, "after": after})
            return {**after, "contact": {"phone": user.phone, "email": user.email}}

    def read_notification(self, username: str, notice_id: int) -> dict:
        with self.transaction() as session:
            return notices.mark_read(session, self.actor(session, username).id, notice_id, self.now())

    def open_notification(self, username: str, notice_id: int) -> tuple[dict, str | None]:
        """Mark one's own notice read; answer it and the page it points to (a receivable's row in the
        contracts register), if any."""
        with self.transaction() as session:
            notice = notices.read_notice(session, self.actor(session, username).id, notice_id, self.now())
            return notices.notice_json(notice), notice.path
