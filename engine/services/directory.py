"""The directory: villages and people imported from the YAML file of CONTRACT.md, through one code
path for ``cunwu import`` and the admin page, audited.

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from ..domain.errors import Forbidden
from .importer import import_data, parse_yaml

CLI_ACTOR = "命令行（cunwu import）"


class DirectoryMixin:
    def import_directory(self, username: str | None, text: str, source: str = "导入文件") -> dict[str, int]:
        """Import ``text`` (YAML) in one transaction: everything or, on the first bad entry, nothing
        (``Invalid`` naming the line and entry). ``username`` is the admin on the page; ``None`` is the
        command line, which runs with the server's own rights. Audited with what changed."""
        doc = parse_yaml(text, source)
        with self.transaction() as session:
            actor = None
            if username is not None:
                actor = self.actor(session, username)
                if not actor.is_admin():
                    raise Forbidden("只有系统管理员可以导入村和人员")
            stats = import_data(session, doc)
            self.audit(session, action="import", actor=actor, actor_name=None if actor else CLI_ACTOR,
                        summary=f"导入{source}：新建村{stats['villages_created']}个，更新村{stats['villages_updated']}个，"
                                f"新建人员{stats['people_created']}人，更新人员{stats['people_updated']}人",
                        data={"source": source[:200], **stats})
        return stats
