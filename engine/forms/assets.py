"""The contract step of the asset-disposal item (A4 集体资产资源处置与发包租赁; issue 13, R40).

``disposal_contract`` is the ``contract`` form with the terms the contracts register needs: the
accounting entity, the contract type, the term, the amount of each period and how often it
falls due, and the asset of the register it concerns. When the step completes, the engine
writes the contract into the register in the same transaction (``engine.records.assets.
record_disposal_contract``) and the asset's status follows (出租, 承包 or 处置): DOMAIN §3.3.4
"Contract & filing: contracts entered in the 三资 system"; R40 "a contract is created in the
registry".
"""

from __future__ import annotations

from typing import Any

from ..records import assets
from .base import CheckContext, choice, day, money, register
from .projects import ContractForm
from .shared import ENTITIES, case_ref, integer, latest, refuse, yuan

#: The plan's 处置方式 → the contract type of the register.
KIND_OF_METHOD = {"lease": "lease", "contract": "outsourcing", "transfer": "transfer", "auction": "transfer"}
KINDS = {"lease": "租赁", "outsourcing": "发包", "contracting": "承包", "transfer": "转让"}


def asset_number(label: str = "资产资源台账编号") -> Any:
    return case_ref(label, "资产资源台账中的编号（台账页面“编号”）；填写后签订合同时该资产资源的状态自动变更")


class DisposalContractForm(ContractForm):
    title_zh = "合同签订与备案（录入合同台账）"
    entity = choice("核算主体", ENTITIES, required=False, help="不填时取资产资源台账登记的核算主体")
    kind = choice("合同类型", KINDS, required=False, help="不填时按处置方案：出租→租赁，发包→发包，转让、拍卖→转让")
    starts_on = day("合同起始日期")
    ends_on = day("合同截止日期")
    every_months = integer("收款周期", minimum=1, maximum=120, unit="个月", help="每隔几个月收一次，一次性收款填12")
    period_amount = money("每期应收金额", help="每期开始之日到期应收的金额")
    asset_no = asset_number()

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        out = dict(super().rules(values, ctx) or {})
        if values["ends_on"] < values["starts_on"]:
            raise refuse("ends_on", "合同截止日期不能早于起始日期")
        if values["period_amount"] <= 0:
            raise refuse("period_amount", "每期应收金额须大于0")
        if values["period_amount"] > values["price"]:
            raise refuse("period_amount", f"每期应收金额不能超过合同金额{yuan(values['price'])}元")
        method = latest(ctx, "method")
        kind = values.get("kind") or KIND_OF_METHOD.get(method or "")
        if kind is None:
            raise refuse("kind", "请选择合同类型（租赁、发包、承包或转让）")
        if method in KIND_OF_METHOD and assets.STATUS_OF_KIND[kind] != assets.STATUS_OF_KIND[KIND_OF_METHOD[method]]:
            raise refuse("kind", f"合同类型“{KINDS[kind]}”与处置方案的处置方式不符")
        asset_id = values.get("asset_no") or latest(ctx, "asset_no")
        entity = values.get("entity")
        if asset_id is not None:
            asset = assets.locked_asset(ctx.session, ctx.village, asset_id, "asset_no")
            if asset.status == "disposed":
                raise refuse("asset_no", f"资产资源“{asset.name}”已处置，不能再签订合同")
            if entity is not None and entity != asset.entity:
                raise refuse("entity", f"资产资源“{asset.name}”登记在{ENTITIES[asset.entity]}名下，合同须为同一核算主体")
            entity = asset.entity
        if entity is None:
            raise refuse("entity", "请选择核算主体（村民委员会或股份经济合作社）")
        subject = (latest(ctx, "asset") or values["contract_no"]).strip()
        return {**out, "contract_kind": kind, "contract_entity": entity, "contract_asset": asset_id,
                "contract_subject": subject}

    def book(self, values: dict, ctx: CheckContext) -> dict:
        """R40: the contract enters the contracts register in the step's transaction, linked to the
        case and the asset (whose status follows)."""
        extra = ctx.extra
        contract = assets.record_disposal_contract(ctx.session, ctx.case, ctx.task, {
            **values, "kind": extra["contract_kind"], "entity": extra["contract_entity"],
            "asset_id": extra.get("contract_asset"), "subject": extra["contract_subject"]},
            by=ctx.actor.name, now=ctx.now)
        return {"ledger_contract": contract.id}


register("disposal_contract", DisposalContractForm)
