"""The cunwu command line: exit codes and messages of CONTRACT.md."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_processes_list(app):
    result = run(app, "processes", "list")
    assert result.exit_code == 0
    assert "major-decision\t村级重大事项决策（四议两公开）\tA（村级公共权力）\tv1" in result.output


def test_validate_good_and_bad_files(app, tmp_path):
    good = ROOT / "processes" / "major-decision.bpmn"
    result = run(app, "processes", "validate", str(good))
    assert result.exit_code == 0
    bad = tmp_path / "bad.bpmn"
    bad.write_text('<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n'
                   '  <bpmn:process id="p" isExecutable="true">\n    <bpmn:startEvent id="s">\n'
                   '  </bpmn:process>\n</bpmn:definitions>\n', encoding="utf-8")
    result = run(app, "processes", "validate", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:5:" in result.output
    assert "Traceback" not in result.output


def test_validate_reports_semantic_errors_with_a_line(app, tmp_path):
    text = (ROOT / "processes" / "major-decision.bpmn").read_text(encoding="utf-8")
    # A gateway flow that loses its condition: SpiffWorkflow reports it without a line number.
    marker = '<bpmn:conditionExpression'
    start = text.index(marker)
    end = text.index("</bpmn:conditionExpression>", start) + len("</bpmn:conditionExpression>")
    broken = tmp_path / "broken.bpmn"
    broken.write_text(text[:start] + text[end:], encoding="utf-8")
    result = run(app, "processes", "validate", str(broken))
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[0]
    path, lineno, message = line.split(":", 2)
    assert path == str(broken) and int(lineno) > 1 and message.strip()


def test_import_is_idempotent_and_names_bad_entries(app, tmp_path):
    good = tmp_path / "v.yaml"
    good.write_text("villages:\n  - {code: v-9, name: 新村, township: 新镇, adults: 100, households: 40,"
                    " party_members: 10, representatives: 12, two_committees: 5}\n"
                    "people:\n  - username: new\n    name: 新人\n    password: pw\n    roles:\n"
                    "      - {village: v-9, role: supervisor}\n", encoding="utf-8")
    first = run(app, "import", str(good))
    assert first.exit_code == 0 and "新建村1个" in first.output
    again = run(app, "import", str(good))
    assert again.exit_code == 0 and "更新村1个" in again.output and "新建人员0人" in again.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("villages:\n  - {code: v-10, name: 坏村, township: 新镇, adults: many, households: 40,"
                   " party_members: 10, representatives: 12, two_committees: 5}\n", encoding="utf-8")
    result = run(app, "import", str(bad))
    assert result.exit_code == 1
    assert "villages 第1项（v-10）（第2行）" in result.output and "adults" in result.output
    bad_role = tmp_path / "bad_role.yaml"
    bad_role.write_text("people:\n  - username: x\n    name: X\n    password: p\n    roles:\n"
                        "      - {village: nowhere, role: supervisor}\n", encoding="utf-8")
    result = run(app, "import", str(bad_role))
    assert result.exit_code == 1 and "people 第1项（x）（第2行） 的第1个角色（第6行）" in result.output
    assert "nowhere" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("villages: [\n", encoding="utf-8")
    assert run(app, "import", str(broken)).exit_code == 1
    assert run(app, "import", str(tmp_path / "missing.yaml")).exit_code == 1


def test_import_failure_writes_nothing(app, tmp_path):
    doc = tmp_path / "half.yaml"
    doc.write_text("villages:\n  - {code: ok-1, name: 好村, township: 镇, adults: 100, households: 40,"
                   " party_members: 10, representatives: 12, two_committees: 5}\n"
                   "people:\n  - username: p1\n    name: P\n    password: pw\n    roles:\n"
                   "      - {village: ok-1, role: nonsense}\n", encoding="utf-8")
    assert run(app, "import", str(doc)).exit_code == 1
    from sqlalchemy import select

    from engine.store.models import Village

    with app.extensions["cunwu"].sessions() as s:
        assert s.scalar(select(Village).where(Village.code == "ok-1")) is None


def test_timers_run_and_worker_once(app):
    assert run(app, "timers", "run").exit_code == 0
    assert run(app, "worker", "--once").exit_code == 0


def test_init_db_twice_keeps_versions(app):
    result = run(app, "init-db")
    assert result.exit_code == 0 and "major-decision\tv1\t未变" in result.output


def test_imports_go_through_the_engine_and_are_audited(app, tmp_path):
    """Issue 16: one code path for `cunwu import` and the admin page, each import audited with what
    changed; a refused import writes neither data nor an audit record."""
    from sqlalchemy import select

    from engine.store.models import AuditEvent

    def imports():
        with app.extensions["cunwu"].sessions() as session:
            return [(e.actor_name, e.summary) for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "import").order_by(AuditEvent.id))]

    before = len(imports())
    good = tmp_path / "v.yaml"
    good.write_text("villages:\n  - {code: v-7, name: 七村, township: 新镇, adults: 100, households: 40,"
                    " party_members: 10, representatives: 12, two_committees: 5}\n", encoding="utf-8")
    assert run(app, "import", str(good)).exit_code == 0
    assert len(imports()) == before + 1
    who, summary = imports()[-1]
    assert who.startswith("命令行") and "新建村1个" in summary and "v.yaml" in summary
    bad = tmp_path / "bad.yaml"
    bad.write_text("villages:\n  - {code: v-8, name: 八村, township: 新镇, adults: many}\n", encoding="utf-8")
    assert run(app, "import", str(bad)).exit_code == 1
    assert len(imports()) == before + 1
    client = app.test_client()
    client.post("/login", data={"username": "admin", "password": "demo123"})
    r = client.post("/admin/import", data={"text": good.read_text(encoding="utf-8")})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    who, summary = imports()[-1]
    assert not who.startswith("命令行"), who  # the admin who pasted it
    assert "更新村1个" in summary and "粘贴的内容" in summary
