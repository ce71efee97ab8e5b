"""Keys of the 村级重大事项 list: the nine matters of Organic Law (2018) Art. 24 and the
common local additions (DOMAIN.md §1.3). ``STATUTORY`` ones always need a 村民会议 decision
or a 村民代表会议 decision under the assembly's authorisation (R2)."""

MATTERS: dict[str, str] = {
    "allowance": "享受误工补贴的人员及补贴标准",
    "collective_income": "从村集体经济所得收益的使用",
    "public_welfare": "兴办公益事业的筹资筹劳方案及建设承包方案",
    "land_contracting": "土地承包经营方案",
    "collective_project": "村集体经济项目的立项、承包方案",
    "homestead_plan": "宅基地的使用方案",
    "requisition_compensation": "征地补偿费的使用、分配方案",
    "asset_disposal": "以借贷、租赁或者其他方式处分村集体财产",
    "assembly_other": "村民会议认为应当由村民会议讨论决定的其他事项",
    "plans": "村庄规划、年度计划和村规民约",
    "major_spending": "大额资金使用",
    "relief_distribution": "救灾救济款物分配",
}

STATUTORY = frozenset(list(MATTERS)[:9])
