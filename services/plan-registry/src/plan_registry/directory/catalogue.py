"""The departments a city or county government usually has that take part in emergency management.

Project data, written from the standard structure of local government after the 2018 institutional
reform (机构改革), not from any one city's documents. Names are given without the region designation
(应急管理局, not 市应急管理局); `seed-departments` puts the region's own level word in front (市, 县,
区, 旗, 州). Aliases are the short or older names documents commonly use for the same body; they also
serve resolution for departments created by hand without aliases.
"""

from __future__ import annotations

from dataclasses import dataclass

from plan_registry.directory.names import fold


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    aliases: tuple[str, ...] = ()
    # The county-level body when it is named differently (消防救援大队 under a city's 支队).
    county_name: str | None = None
    county_aliases: tuple[str, ...] = ()
    city: bool = True
    county: bool = True

    def for_level(self, county: bool) -> tuple[str, tuple[str, ...]] | None:
        if (county and not self.county) or (not county and not self.city):
            return None
        if county and self.county_name is not None:
            return self.county_name, self.county_aliases
        return self.name, self.aliases


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("人民政府办公室", ("政府办公室", "政府办")),
    CatalogueEntry("应急管理局", ("应急局",)),
    CatalogueEntry(
        "消防救援支队",
        ("消防支队",),
        county_name="消防救援大队",
        county_aliases=("消防大队",),
    ),
    CatalogueEntry("水利局", ("水务局",)),
    CatalogueEntry("住房和城乡建设局", ("住建局", "住房城乡建设局", "住房和城乡建设委员会", "住建委")),
    CatalogueEntry(
        "自然资源和规划局",
        ("规划和自然资源局", "自然资源局", "自然资源规划局", "规划自然资源局", "规自局"),
    ),
    CatalogueEntry("交通运输局", ("交通局",)),
    CatalogueEntry("气象局"),
    CatalogueEntry("公安局"),
    CatalogueEntry(
        "公安局交通警察支队",
        ("公安局交警支队", "交警支队"),
        county_name="公安局交通警察大队",
        county_aliases=("公安局交警大队", "交警大队"),
    ),
    CatalogueEntry("人民防空办公室", ("人防办", "人民防空办")),
    CatalogueEntry("卫生健康委员会", ("卫健委", "卫生健康委", "卫生健康局", "卫健局")),
    CatalogueEntry("疾病预防控制中心", ("疾控中心",)),
    CatalogueEntry("教育局", ("教育和体育局", "教体局")),
    CatalogueEntry("工业和信息化局", ("工信局", "工业和信息化委员会", "工信委")),
    CatalogueEntry("财政局"),
    CatalogueEntry(
        "发展和改革委员会",
        ("发改委", "发展改革委", "发展和改革局", "发展改革局", "发改局"),
    ),
    CatalogueEntry("农业农村局", ("农业农村委员会", "农业农村委", "农业局")),
    CatalogueEntry("林业局", ("林业和草原局", "林草局")),
    CatalogueEntry("市场监督管理局", ("市场监管局",)),
    CatalogueEntry("生态环境局", ("环境保护局", "环保局")),
    CatalogueEntry("民政局"),
    CatalogueEntry("商务局"),
    CatalogueEntry("文化和旅游局", ("文旅局", "文化旅游局")),
    CatalogueEntry("地震局", ("防震减灾局", "防震减灾中心")),
    CatalogueEntry("通信发展管理办公室", ("通信管理办公室", "通信办")),
    CatalogueEntry("供电公司", ("电力公司", "供电局")),
    CatalogueEntry("能源局"),
    CatalogueEntry("粮食和物资储备局", ("粮食局", "粮储局")),
    CatalogueEntry("人力资源和社会保障局", ("人社局", "人力资源社会保障局")),
    CatalogueEntry("科学技术局", ("科技局",)),
    CatalogueEntry("城市管理局", ("城管局", "城市管理综合行政执法局")),
    CatalogueEntry("国有资产监督管理委员会", ("国资委",)),
    CatalogueEntry("医疗保障局", ("医保局",)),
    CatalogueEntry("司法局"),
    CatalogueEntry("统计局"),
    CatalogueEntry("审计局"),
    CatalogueEntry("委宣传部"),
    CatalogueEntry("委政法委员会", ("委政法委",)),
    CatalogueEntry("行政审批服务管理局", ("审批局", "行政审批局")),
    CatalogueEntry("邮政管理局", county=False),
    CatalogueEntry("总工会"),
    CatalogueEntry("红十字会"),
    CatalogueEntry("军分区", county=False),
    CatalogueEntry("人民武装部", ("人武部",), city=False),
)


def _synonyms() -> dict[str, frozenset[str]]:
    """Folded name → the folded names of the same body (itself included), over every entry."""
    classes: dict[str, set[str]] = {}
    for entry in CATALOGUE:
        groups = [{fold(n) for n in (entry.name, *entry.aliases)}]
        if entry.county_name is not None:
            groups.append({fold(n) for n in (entry.county_name, *entry.county_aliases)})
        for group in groups:
            for key in group:
                classes.setdefault(key, set()).update(group)
    return {key: frozenset(group) for key, group in classes.items()}


SYNONYMS = _synonyms()
