"""Delivering the outbox (issue 17): ``cunwu worker`` sends every pending message to its channel.

Channels come from the environment (README "通知：接入短信、邮件和群机器人"):

- ``CUNWU_SMTP_URL`` — email, ``smtp://user:password@host:587?from=cunwu@town.gov.cn&starttls=1``
  (``smtps://`` for SMTP over TLS);
- ``CUNWU_WEBHOOK_URL`` — a chat robot in the 企业微信 format ``{"msgtype": "text", "text": {"content": …}}``
  (钉钉's custom robot takes the same body);
- ``CUNWU_SMS_URL`` — an HTTP SMS gateway adapter: ``POST`` of ``{"phone", "content", "template_id",
  "params"}`` (``CUNWU_SMS_TEMPLATE``, optional ``CUNWU_SMS_TOKEN`` as a bearer token); any 2xx is
  accepted;
- ``CUNWU_PUBLIC_URL`` — the address people open; every text links to the case there.

A message is claimed before it is sent: on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` and on every
database with a conditional update that moves its ``next_at`` a lease ahead, committed before the
send. Two workers never send one message twice; a worker that dies after claiming leaves the
message for the next sweep after the lease. Every try is a ``delivery_attempt`` row; a failure is
tried again after a growing pause and the message is ``dead`` after the last try. A channel that is
not configured marks its messages ``skipped``.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..store.models import DeliveryAttempt, OutboxMessage, User
from .notices import KIND_NAMES, preferences, quiet_until

log = logging.getLogger("cunwu.notices")

#: Pauses after the 1st, 2nd, … failed try; the try after the last pause is the last one.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
#: How long a claimed message is left to the worker that claimed it.
LEASE = timedelta(minutes=10)
SMS_LIMIT = 70
TIMEOUT = 10


class DeliveryError(Exception):
    """A channel refused or could not take a message."""


# -- texts ---------------------------------------------------------------------------------------------
def link(public_url: str, path: str) -> str:
    return f"{public_url.rstrip('/')}{path}" if public_url and path else ""


def sms_text(subject: str, url: str) -> str:
    """At most 70 characters: the sentence, shortened inside its quoted title if need be, and the link."""
    tail = f" {url}" if url and len(url) <= SMS_LIMIT - 20 else ""
    room = SMS_LIMIT - len(tail)
    text = f"{subject}。"
    if len(text) > room:
        over = len(text) - room + 1  # +1 for the ellipsis
        start, end = text.find("“"), text.find("”")
        if start >= 0 and end - start - 1 > over:
            text = text[:end - over] + "…" + text[end:]
        else:
            text = text[:room - 1] + "…"
    return text + tail


def digest_sms_text(count: int, first: str, url: str) -> str:
    """A digest by SMS: how many notices and the first of them, within 70 characters."""
    return sms_text(f"阳光村务今日通知{count}条：{first}" + ("等" if count > 1 else ""), url)


def webhook_text(kind: str, subject: str, url: str) -> str:
    return f"【阳光村务·{KIND_NAMES.get(kind, '通知')}】{subject}。" + (f"\n{url}" if url else "")


def email_message(sender: str, to: str, kind: str, subject: str, url: str, body: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"【阳光村务·{KIND_NAMES.get(kind, '通知')}】{subject}"
    msg.set_content(f"{subject}。\n" + (f"{body}\n" if body else "") + (f"查看：{url}\n" if url else "")
                    + "\n本邮件由阳光村务系统自动发送，请勿直接回复。\n")
    return msg


# -- channels ----------------------------------------------------------------------------------------------
@dataclass
class Channels:
    smtp_url: str = ""
    webhook_url: str = ""
    sms_url: str = ""
    sms_template: str = ""
    sms_token: str = ""
    public_url: str = ""
    senders: dict[str, Callable[[dict], None]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Channels:
        out = cls(smtp_url=env.get("CUNWU_SMTP_URL", ""), webhook_url=env.get("CUNWU_WEBHOOK_URL", ""),
                  sms_url=env.get("CUNWU_SMS_URL", ""), sms_template=env.get("CUNWU_SMS_TEMPLATE", ""),
                  sms_token=env.get("CUNWU_SMS_TOKEN", ""), public_url=env.get("CUNWU_PUBLIC_URL", ""))
        return out

    def sender(self, channel: str) -> Callable[[dict], None] | None:
        if channel in self.senders:
            return self.senders[channel]
        if channel == "email" and self.smtp_url:
            return self.send_email
        if channel == "webhook" and self.webhook_url:
            return self.send_webhook
        if channel == "sms" and self.sms_url:
            return self.send_sms
        return None

    # the three channels
    def send_email(self, m: dict) -> None:
        parts = urlsplit(self.smtp_url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise DeliveryError("CUNWU_SMTP_URL 应为 smtp://用户:密码@主机:端口 或 smtps://…")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        sender = query.get("from") or (unquote(parts.username) if parts.username and "@" in unquote(parts.username)
                                       else "cunwu@localhost")
        msg = email_message(sender, m["address"], m["kind"], m["subject"], link(self.public_url, m["path"]),
                            _digest_lines(m, self.public_url))
        try:
            if parts.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=TIMEOUT,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=TIMEOUT)
            with smtp:
                if parts.scheme == "smtp" and query.get("starttls") in ("1", "true", "yes"):
                    smtp.starttls(context=ssl.create_default_context())
                if parts.username:
                    smtp.login(unquote(parts.username), unquote(parts.password or ""))
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"邮件发送失败：{exc}") from exc

    def send_webhook(self, m: dict) -> None:
        content = webhook_text(m["kind"], m["subject"], link(self.public_url, m["path"]))
        answer = _post_json(self.webhook_url, {"msgtype": "text", "text": {"content": content}})
        if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):  # 企业微信/钉钉 say errcode 0
            raise DeliveryError(f"群机器人拒收：{answer.get('errcode')} {answer.get('errmsg', '')}")

    def send_sms(self, m: dict) -> None:
        url = link(self.public_url, m["path"])
        if m["kind"] == "digest":
            lines = json.loads(m.get("body") or "[]")
            content = digest_sms_text(len(lines), lines[0]["subject"] if lines else "", url)
        else:
            content = sms_text(m["subject"], url)
        body = {"phone": m["address"], "content": content,
                "template_id": self.sms_template or None,
                "params": {"village": m["village"], "kind": KIND_NAMES.get(m["kind"], ""), "link": url}}
        headers = {"Authorization": f"Bearer {self.sms_token}"} if self.sms_token else {}
        _post_json(self.sms_url, body, headers)


def _post_json(url: str, body: dict, headers: dict | None = None):
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - configured URL
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from exc
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"无法连接：{exc}") from exc
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _digest_lines(m: dict, public_url: str) -> str:
    if m["kind"] != "digest" or not m.get("body"):
        return ""
    out = []
    for line in json.loads(m["body"]):
        url = link(public_url, line.get("path", ""))
        out.append(f"· {line['at']} {line['subject']}" + (f"\n  {url}" if url else ""))
    return "\n".join(out)


# -- daily digests ---------------------------------------------------------------------------------------------
def compose_digests(sessions: sessionmaker[Session], now: datetime, batch: int = 500) -> int:
    """Fold the messages waiting for a person's daily digest, now due, into one message per person
    and channel (``kind="digest"``, its lines in ``body``), sent like any other. The waiting rows
    become ``digested`` (pointing at their digest). Rows are taken with ``FOR UPDATE SKIP LOCKED``
    on PostgreSQL and a conditional update everywhere, so two workers never fold one row twice."""
    from ..domain.clock import LOCAL_TZ

    made = 0
    while True:
        with sessions() as session, session.begin():
            stmt = (select(OutboxMessage).where(OutboxMessage.status == "digest", OutboxMessage.next_at <= now)
                    .order_by(OutboxMessage.user_id, OutboxMessage.channel, OutboxMessage.id).limit(batch))
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(session.scalars(stmt))
            groups: dict[tuple, list[OutboxMessage]] = {}
            for m in rows:
                groups.setdefault((m.user_id, m.channel, m.address), []).append(m)
            if len(rows) == batch and len(groups) > 1:  # the last group may go on past the batch: next round
                groups.pop(next(reversed(groups)))
            for (user_id, channel, address), members in groups.items():
                digest = OutboxMessage(channel=channel, address=address, user_id=user_id, kind="digest",
                                       village="", subject="", path="/notifications", status="pending",
                                       attempts=0, created_at=now, next_at=now)
                session.add(digest)
                session.flush()
                taken = []
                for m in members:
                    done = session.execute(update(OutboxMessage).where(
                        OutboxMessage.id == m.id, OutboxMessage.status == "digest")
                        .values(status="digested", digest_id=digest.id).execution_options(synchronize_session=False))
                    if done.rowcount == 1:
                        taken.append(m)
                if not taken:
                    session.delete(digest)
                    continue
                digest.subject = f"今日通知{len(taken)}条"
                digest.body = json.dumps([{"at": m.created_at.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M"),
                                           "kind": m.kind, "subject": m.subject, "path": m.path} for m in taken],
                                         ensure_ascii=False)
                made += 1
        if len(rows) < batch or not groups:
            return made


# -- the sweep -------------------------------------------------------------------------------------------------
def _claim(session: Session, now: datetime, batch: int) -> list[dict]:
    stmt = (select(OutboxMessage).where(OutboxMessage.status == "pending", OutboxMessage.next_at <= now)
            .order_by(OutboxMessage.next_at, OutboxMessage.id).limit(batch))
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    claimed = []
    for m in list(session.scalars(stmt)):
        done = session.execute(update(OutboxMessage).where(
            OutboxMessage.id == m.id, OutboxMessage.status == "pending", OutboxMessage.next_at <= now)
            .values(next_at=now + LEASE).execution_options(synchronize_session=False))
        if done.rowcount == 1:
            claimed.append({"id": m.id, "channel": m.channel, "address": m.address, "kind": m.kind,
                            "village": m.village, "subject": m.subject, "path": m.path, "attempts": m.attempts,
                            "body": m.body, "user_id": m.user_id})
    people = {m["user_id"] for m in claimed if m["user_id"] is not None}
    chosen = {u.id: preferences(u) for u in session.scalars(select(User).where(User.id.in_(people)))} if people else {}
    for m in claimed:  # the person's own choice, as it is when the message is sent
        prefs = chosen.get(m["user_id"])
        m["quiet"] = (prefs["quiet_from"], prefs["quiet_to"]) if prefs else None
        m["off"] = bool(prefs and m["channel"] in ("sms", "email") and not prefs[m["channel"]])
    return claimed


def deliver(sessions: sessionmaker[Session], now: Callable[[], datetime], channels: Channels, *,
            batch: int = 50, max_attempts: int = MAX_ATTEMPTS, limit: int | None = None) -> dict[str, int]:
    """Fold the due daily digests, then send what is due in the outbox, once. Returns counts of
    ``sent``, ``failed``, ``dead``, ``skipped``, ``deferred`` and ``digests``."""
    stats = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0, "deferred": 0}
    stats["digests"] = compose_digests(sessions, now())
    handled = 0
    while limit is None or handled < limit:
        with sessions() as session, session.begin():
            claimed = _claim(session, now(), batch)
        if not claimed:
            break
        for m in claimed:
            handled += 1
            _deliver_one(sessions, now, channels, m, max_attempts, stats)
        if len(claimed) < batch:
            break
    return stats


def _deliver_one(sessions, now, channels: Channels, m: dict, max_attempts: int, stats: dict) -> None:
    send = channels.sender(m["channel"])
    at = now()
    if send is None:
        with sessions() as session, session.begin():
            session.execute(update(OutboxMessage).where(OutboxMessage.id == m["id"]).values(
                status="skipped", last_error="渠道未配置"))
        stats["skipped"] += 1
        return
    if m.get("off"):  # turned off by the person since the message was written
        with sessions() as session, session.begin():
            session.execute(update(OutboxMessage).where(OutboxMessage.id == m["id"]).values(
                status="skipped", last_error="本人已关闭该渠道"))
        stats["skipped"] += 1
        return
    quiet = m.get("quiet") or ()
    if m["channel"] == "sms" and m["kind"] != "hold" and (later := quiet_until(at, *quiet)) is not None:
        with sessions() as session, session.begin():  # 22:00–07:00 Beijing: no SMS but for a hold
            session.execute(update(OutboxMessage).where(OutboxMessage.id == m["id"]).values(next_at=later))
        stats["deferred"] += 1
        return
    error = ""
    try:
        send(m)
    except DeliveryError as exc:
        error = str(exc)[:2000]
    except Exception as exc:  # noqa: BLE001 - a broken channel must not stop the sweep
        log.exception("通知发送出错：消息%s", m["id"])
        error = f"{type(exc).__name__}: {exc}"[:2000]
    attempts = m["attempts"] + 1
    with sessions() as session, session.begin():
        session.add(DeliveryAttempt(outbox_id=m["id"], at=at, ok=not error, error=error))
        if not error:
            values = {"status": "sent", "sent_at": at, "attempts": attempts, "last_error": None}
            stats["sent"] += 1
        elif attempts >= max_attempts:
            values = {"status": "dead", "attempts": attempts, "last_error": error}
            stats["dead"] += 1
            log.warning("通知发送失败%s次，不再重试：消息%s（%s）", attempts, m["id"], error)
        else:
            values = {"attempts": attempts, "last_error": error,
                      "next_at": at + BACKOFF[min(attempts, len(BACKOFF)) - 1]}
            stats["failed"] += 1
        session.execute(update(OutboxMessage).where(OutboxMessage.id == m["id"]).values(**values))


# -- the admin's desk: what failed, and sending it again ------------------------------------------------------
def desk(session: Session, limit: int = 200) -> dict:
    """Counts by status and channel, and the messages that failed (dead, or waiting to be retried)."""
    from sqlalchemy import func

    counts: dict[str, dict[str, int]] = {}
    for channel, status, n in session.execute(select(OutboxMessage.channel, OutboxMessage.status, func.count())
                                              .group_by(OutboxMessage.channel, OutboxMessage.status)):
        counts.setdefault(channel, {})[status] = n
    failed = session.scalars(select(OutboxMessage).where(
        (OutboxMessage.status == "dead") | ((OutboxMessage.status == "pending") & (OutboxMessage.attempts > 0)))
        .order_by(OutboxMessage.id.desc()).limit(limit))
    return {"counts": counts, "failed": [
        {"id": m.id, "channel": m.channel, "address": m.address, "kind": m.kind, "subject": m.subject,
         "status": m.status, "attempts": m.attempts, "last_error": m.last_error or "", "next_at": m.next_at,
         "created_at": m.created_at} for m in failed]}


def resend(session: Session, message_id: int, now: datetime) -> OutboxMessage:
    """Put a dead (or skipped) message back in the queue for a fresh round of tries."""
    from ..domain.errors import Conflict, NotFound

    m = session.get(OutboxMessage, message_id) if 0 < message_id < 2**31 else None
    if m is None:
        raise NotFound(f"没有编号为{message_id}的待发消息")
    if m.status == "sent":
        raise Conflict("该消息已发出，不再重发")
    m.status, m.attempts, m.next_at = "pending", 0, now
    return m
