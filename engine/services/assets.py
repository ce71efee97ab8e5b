"""The engine's calls for the assets and resources register (资产/资源台账; engine/records/assets.py) and
the receivable reminders of the contracts register (engine/records/receivables.py). Mixed into
:class:`engine.services.Engine`. Read: the village's roles, township roles, the county inspector;
write: the village's 报账员 and the township agency (as the ledger)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ..domain.errors import Invalid, NotFound
from ..records import assets, contract_register, ledger_chart
from ..store.models import LedgerAsset, LedgerAssetEvent, LedgerContract


class AssetsMixin:
    def assets(self, username: str, code: str, *, entity: str | None = None, category: str | None = None,
               status: str | None = None, q: str | None = None) -> dict:
        """``{assets, count, totals}`` of a village's register, filtered (exact values as strings)."""
        assets.check_filters(entity, category, status)
        if q is not None and (not isinstance(q, str) or len(q) > 100):
            raise Invalid("查询词不能超过100字", {"q": ["查询词不能超过100字"]})
        filters = {"entity": entity or None, "category": category or None, "status": status or None,
                   "q": (q or "").strip() or None}
        with self.sessions() as session:
            _, village = self.ledger_village(session, username, code)
            rows = list(session.scalars(assets.query(village, **filters).order_by(LedgerAsset.id).limit(5000)))
            linked = assets.contracts_of(session, [a.id for a in rows])
            total = assets.totals(session, village, **filters)
            return {"village": village.code, "village_name": village.name,
                    "filters": {k: v for k, v in filters.items() if v}, "count": total["count"],
                    "assets": [assets.asset_json(a, linked.get(a.id)) for a in rows],
                    "totals": {"original_value": total["original_value"], "book_value": total["book_value"]}}

    def add_asset(self, username: str, code: str, data: dict) -> dict:
        if not isinstance(data, dict):
            raise Invalid("请求正文必须是对象", {"data": ["请求正文必须是 JSON 对象"]})
        with self.transaction() as session:
            actor, village = self.ledger_village(session, username, code, write=True)
            now = self.now()
            values = assets.validate_asset(data, ledger_chart.local_today(now))
            if values["code"] and session.scalar(select(LedgerAsset.id).where(
                    LedgerAsset.village_id == village.id, LedgerAsset.code == values["code"])) is not None:
                message = f"登记编号“{values['code']}”已被本村另一项资产资源使用"
                raise Invalid(message, {"code": [message]})
            asset = LedgerAsset(village_id=village.id, created_at=now, created_by_name=actor.name, **values)
            session.add(asset)
            session.flush()
            session.add(LedgerAssetEvent(asset_id=asset.id, at=now, status_from=None, status_to=asset.status,
                                         reason="登记入台账", by_name=actor.name))
            self.audit(session, action="ledger_asset", actor=actor, village_id=village.id,
                        summary=f"登记资产资源：{assets.CATEGORIES[asset.category]} {asset.name}"
                                f"（{asset.quantity}{asset.unit}，{assets.STATUSES[asset.status]}）",
                        data={"asset": asset.id})
            return self._asset_detail(session, asset)

    def asset(self, username: str, code: str, asset_id: int) -> dict:
        with self.sessions() as session:
            _, village = self.ledger_village(session, username, code)
            asset = session.get(LedgerAsset, asset_id) if 0 < asset_id < 2**31 else None
            if asset is None or asset.village_id != village.id:
                raise NotFound(f"本村资产资源台账中没有编号为{asset_id}的资产资源")
            return self._asset_detail(session, asset)

    def change_asset_status(self, username: str, code: str, asset_id: int, data: dict) -> dict:
        """出租, 承包, 闲置, 处置 … by hand: recorded as an event with its reason (never an edit)."""
        if not isinstance(data, dict):
            raise Invalid("请求正文必须是对象", {"data": ["请求正文必须是 JSON 对象"]})
        with self.transaction() as session:
            actor, village = self.ledger_village(session, username, code, write=True)
            if not 0 < asset_id < 2**31 or session.get(LedgerAsset, asset_id) is None:
                raise NotFound(f"本村资产资源台账中没有编号为{asset_id}的资产资源")
            try:
                asset = assets.locked_asset(session, village, asset_id)
            except Invalid:
                raise NotFound(f"本村资产资源台账中没有编号为{asset_id}的资产资源") from None
            values = assets.validate_status(data)
            before = asset.status
            assets.change_status(session, asset, values["status"], reason=values["reason"], by=actor.name,
                                 now=self.now())
            self.audit(session, action="ledger_asset_status", actor=actor, village_id=village.id,
                        summary=f"资产资源“{asset.name}”状态：{assets.STATUSES[before]} → "
                                f"{assets.STATUSES[asset.status]}（{values['reason']}）",
                        data={"asset": asset.id, "from": before, "to": asset.status})
            return self._asset_detail(session, asset)

    def _asset_detail(self, session, asset: LedgerAsset) -> dict:
        contracts = list(session.scalars(select(LedgerContract).where(LedgerContract.asset_id == asset.id)
                                         .order_by(LedgerContract.id)))
        received = contract_register.received_by_contract(session, [c.id for c in contracts])
        today = ledger_chart.local_today(self.now())
        history = session.scalars(select(LedgerAssetEvent).where(LedgerAssetEvent.asset_id == asset.id)
                                  .order_by(LedgerAssetEvent.id))
        return {**assets.asset_json(asset, [c.id for c in contracts]),
                "history": [assets.event_json(e) for e in history],
                "contract_rows": [contract_register.contract_json(c, received.get(c.id, Decimal(0)), today)
                                  for c in contracts]}
