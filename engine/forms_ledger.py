"""Forms of the books' own process ``finance-disclosure`` (issue 13; engine/ledger.py)."""

from __future__ import annotations

from .forms import FormSchema, register, text


class StatementReplyForm(FormSchema):
    """The 报账员 answers the supervisors' questions on the statement (民主理财). Corrections of
    the books are made as reversing and new entries (R62); the engine then generates the
    statement again from the ledger for the next review."""

    title_zh = "答复质询"
    reply = text("答复", max_len=5000, help="逐条答复监委会（民主理财小组）的质询；账目有误的，先在账目中冲销更正")


LEDGER_FORMS: dict[str, type[FormSchema]] = {"statement_reply": StatementReplyForm}

for _key, _schema in LEDGER_FORMS.items():
    register(_key, _schema)
