#!/usr/bin/env python3
"""Turns the published 2024 disclosure of 昌吉州融媒体中心 (../shared/reference/000_f999840975c11714.txt) into a
juesuan Disclosure in the proto JSON mapping (proto field names), for tests/fixtures/reference-2024.json.

The published text carries tables 1–9 only as narrative; the figures it states are entered as the tables' cells,
with tables whose other cells the text does not give marked PARTIAL. Nothing is derived or corrected: genuine
inconsistencies of the source stay in the fixture, for the validator to find.

    python3 tools/reference_to_json.py ../shared/reference/000_f999840975c11714.txt > tests/fixtures/reference-2024.json
"""

import json
import re
import sys

UNIT_CODE = "652300101"  # assigned for the fixture: the text has no unit code
DEPARTMENT_CODE = "652300001"  # 昌吉州党委宣传部, the supervising department


def dec(text):
    """A printed number as a Decimal message, thousands separators removed, precision kept."""
    text = text.strip().replace(",", "")
    assert re.fullmatch(r"-?\d+(\.\d+)?", text), text
    return {"value": text}


def opt_dec(text):
    text = text.strip().rstrip("%").rstrip("分").strip()
    if text in ("", "-", "—", "/"):
        return None
    return dec(text)


def rows_of(lines, start, end):
    """The tab-indented table rows between two line indexes: blocks separated by blank lines."""
    rows, current = [], []
    for line in lines[start:end]:
        if line.strip() == "" and not line.startswith("\t"):
            if current:
                rows.append(current)
                current = []
            continue
        if line.startswith("\t"):
            current.append(line[1:].strip())
    if current:
        rows.append(current)
    return rows


DATE = re.compile(r"^(\d{4})年(\d{1,2})月(?:(\d{1,2})日)?(前|份)?$")
NUMBER = re.compile(r"^(\d+(?:\.\d+)?)(.*)$")
DURATION_UNITS = {"天", "小时", "年", "个月", "日"}
COMPARATORS = [(">=", "COMPARATOR_GE"), ("<=", "COMPARATOR_LE"), ("≥", "COMPARATOR_GE"), ("≤", "COMPARATOR_LE"),
               (">", "COMPARATOR_GT"), ("<", "COMPARATOR_LT"), ("=", "COMPARATOR_EQ")]


def measure(raw):
    raw = raw.strip()
    if raw in ("", "-", "—", "/"):
        return None
    text = raw
    comparator = None
    for prefix, name in COMPARATORS:
        if text.startswith(prefix):
            comparator, text = name, text[len(prefix):].strip()
            break
    m = DATE.match(text)
    if m:
        year, month, day, suffix = m.groups()
        date = f"{int(year):04d}-{int(month):02d}" + (f"-{int(day):02d}" if day else "")
        if suffix == "前":
            comparator = "COMPARATOR_LE"
        return {"raw": raw, "comparator": comparator or "COMPARATOR_EQ", "kind": "MEASURE_KIND_DATE", "date": date}
    m = NUMBER.match(text)
    if m:
        number, unit = m.group(1), m.group(2).strip()
        if unit == "%":
            kind = "MEASURE_KIND_PERCENT"
        elif unit in DURATION_UNITS:
            kind = "MEASURE_KIND_DURATION"
        else:
            kind = "MEASURE_KIND_NUMBER"
        return {"raw": raw, "comparator": comparator or "COMPARATOR_EQ", "kind": kind, "number": dec(number),
                "unit": unit}
    return {"raw": raw, "comparator": "COMPARATOR_QUALITATIVE", "kind": "MEASURE_KIND_TEXT", "text": text}


SCORING = {"按照完成比例赋分": "SCORING_RULE_PROPORTIONAL", "按评判等级赋分": "SCORING_RULE_GRADED",
           "直接赋分": "SCORING_RULE_DIRECT", "满意度赋分": "SCORING_RULE_SATISFACTION"}
FUNDS = {"年度资金总额": "FUNDS_SOURCE_TOTAL", "合计": "FUNDS_SOURCE_TOTAL", "其中：当年财政拨款": "FUNDS_SOURCE_CURRENT_APPROPRIATION",
         "当年财政拨款": "FUNDS_SOURCE_CURRENT_APPROPRIATION", "上年结转": "FUNDS_SOURCE_PRIOR_YEAR_CARRYOVER",
         "其他资金": "FUNDS_SOURCE_OTHER", "上级资金": "FUNDS_SOURCE_SUPERIOR", "本级资金": "FUNDS_SOURCE_SAME_LEVEL"}


def funds_row(cells):
    label = cells[0].strip()
    row = {"source": FUNDS[label], "label": label}
    for key, text in zip(["initial_budget", "full_year_budget", "executed", "weight", "execution_rate", "score"],
                         cells[1:7]):
        value = opt_dec(text)
        if value is not None:
            row[key] = value
    return row


def drop_none(d):
    return {k: v for k, v in d.items() if v is not None and v != ""}


def project_evaluation(rows):
    """One 项目支出绩效自评表, from its rows (the first is 项目名称)."""
    evaluation = {"funds": [], "indicators": []}
    level1 = level2 = ""
    for row in rows:
        head = row[0]
        if head == "项目名称":
            evaluation["name"] = row[1]
        elif head == "主管部门":
            evaluation["supervising_department"] = row[1]
            evaluation["implementing_unit"] = row[3]
        elif head in ("项目资金（万元）", "年度总体目标", "(2024年度)", "项目支出绩效自评表"):
            continue
        elif head == "" and len(row) >= 7 and row[1].strip() in FUNDS:
            evaluation["funds"].append(funds_row(row[1:]))
        elif head == "" and len(row) == 3 and "goal_expected" not in evaluation:
            evaluation["goal_expected"], evaluation["goal_actual"] = row[1], row[2]
        elif head == "" and row[1] == "一级指标":
            continue
        elif head in ("年度绩效指标完成情况", "") and len(row) == 14:
            level1 = row[1] or level1
            level2 = row[2] or level2
            indicator = {
                "level1": level1, "level2": level2, "name": row[3], "weight": opt_dec(row[4]),
                "target": measure(row[5]), "actual": measure(row[6]), "completion_rate": opt_dec(row[7]),
                "score": opt_dec(row[8]), "scoring_rule": SCORING.get(row[11]), "basis": row[9],
                "last_year": row[10], "evidence": row[12], "deviation_reason": row[13],
            }
            evaluation["indicators"].append(drop_none(indicator))
        elif head == "总分":
            evaluation["total_weight"] = opt_dec(row[1])
            evaluation["total_score"] = opt_dec(row[5])
        else:
            raise SystemExit(f"unexpected row in project {evaluation.get('name')}: {row}")
    return drop_none(evaluation)


def unit_evaluation(rows):
    evaluation = {"funds": [], "indicators": []}
    level1 = level2 = ""
    for row in rows:
        if row[0] == "" and len(row) == 8 and row[1] in FUNDS:
            evaluation["funds"].append(funds_row(row[1:]))
        elif row[0] == "" and len(row) == 3:
            evaluation["goal_expected"], evaluation["goal_actual"] = row[1], row[2]
        elif len(row) == 8 and row[0] not in ("一级指标", "部门资金（万元）"):
            level1 = row[0] or level1
            level2 = row[1] or level2
            evaluation["indicators"].append(drop_none({
                "level1": level1, "level2": level2, "name": row[2], "target": measure(row[3]), "basis": row[4],
                "weight": opt_dec(row[5]), "actual": measure(row[6]), "score": opt_dec(row[7]),
            }))
    return evaluation


def narrative(lines):
    """Sections of the 公开说明 by their headings, up to the evaluation tables."""
    headings = [
        ("一、主要职能", "functions"), ("二、机构设置及人员情况", "organisation"),
        ("一、收入支出决算总体情况说明", "income_expenditure"), ("二、收入决算情况说明", "income"),
        ("三、支出决算情况说明", "expenditure"), ("四、财政拨款收入支出决算总体情况说明", "fiscal_appropriation"),
        ("五、一般公共预算财政拨款支出决算情况说明", "general_budget"),
        ("六、一般公共预算财政拨款基本支出决算情况说明", "general_budget_basic"),
        ("七、政府性基金预算财政拨款收入支出决算情况说明", "government_fund"),
        ("八、国有资本经营预算财政拨款收入支出决算情况说明", "state_capital"),
        ("九、财政拨款“三公”经费支出决算情况说明", "three_public"),
        ("（一）机关运行经费及公用经费支出情况", "operating_expenses"), ("（二）政府采购情况", "procurement"),
        ("（三）国有资产占用情况说明", "assets"), ("十一、预算绩效的情况说明", "performance"),
        ("十二、其他需说明的事项", "other_matters"), ("第三部分 专业名词解释", "glossary"),
    ]
    stops = ("第二部分", "十、其他重要事项的情况说明", "单位整体支出绩效自评表", "第四部分")
    sections, current = [], None
    for line in lines:
        text = line.strip()
        match = next((key for title, key in headings if text == title), None)
        if match:
            current = {"key": match, "title": text.lstrip("一二三四五六七八九十、（）").strip(), "lines": []}
            sections.append(current)
            continue
        if any(text.startswith(stop) for stop in stops) or line.startswith("\t"):
            current = None
            continue
        if current is not None and text:
            current["lines"].append(text.replace("[bookmark: _GoBack]", ""))
    return [{"key": s["key"], "title": s["title"], "text": "\n".join(s["lines"])} for s in sections]


def cells(*pairs):
    return [{"column": column, "value": dec(value)} for column, value in pairs]


def row(code, *pairs):
    return {"code": code, "cells": cells(*pairs)}


def main(path):
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")

    starts = [i for i, line in enumerate(lines) if line.strip() == "项目名称"]
    unit_start = next(i for i, line in enumerate(lines) if line.strip() == "单位整体支出绩效自评表")
    end = next(i for i, line in enumerate(lines) if line.startswith("十二、其他需说明的事项"))
    projects = [project_evaluation(rows_of(lines, s, e)) for s, e in zip(starts, starts[1:] + [end])]

    amount = lambda v: [("amount", v)]
    disclosure = {
        "cover": {
            "unit_code": UNIT_CODE, "unit_name": "昌吉州融媒体中心", "fiscal_year": 2024,
            "budget_level": "BUDGET_LEVEL_PREFECTURE", "unit_type": "UNIT_TYPE_PUBLIC_INSTITUTION_CLASS_2",
            "supervising_department_code": DEPARTMENT_CODE, "supervising_department_name": "昌吉州党委宣传部",
            "parent_unit_code": DEPARTMENT_CODE, "fiscal_region_code": "652300",
            "report_type": "REPORT_TYPE_SINGLE", "amount_unit": "AMOUNT_UNIT_TEN_THOUSAND_YUAN",
        },
        "tables": [
            {"code": "T01", "completeness": "TABLE_COMPLETENESS_PARTIAL", "rows": [
                row(code, *amount(v)) for code, v in [
                    ("income_gpb", "7,070.64"), ("income_gov_fund", "0.00"), ("income_state_capital", "0.00"),
                    ("income_superior_subsidy", "0.00"), ("income_business", "892.66"), ("income_operating", "0.00"),
                    ("income_affiliated_remit", "0.00"), ("income_other", "227.53"), ("income_total", "8,190.84"),
                    ("nonfiscal_balance_used", "0.00"), ("carryover_begin", "406.99"),
                    ("income_grand_total", "8,597.83"), ("expenditure_total", "7,973.19"),
                    ("surplus_distribution", "214.53"), ("carryover_end", "410.12"),
                    ("expenditure_grand_total", "8,597.83")]]},
            {"code": "T02", "completeness": "TABLE_COMPLETENESS_PARTIAL", "rows": [
                row("total", ("total", "8,190.84"), ("fiscal", "7,070.64"), ("superior_subsidy", "0.00"),
                    ("business", "892.66"), ("operating", "0.00"), ("affiliated_remit", "0.00"), ("other", "227.53"))]},
            {"code": "T03", "completeness": "TABLE_COMPLETENESS_PARTIAL", "rows": [
                row("total", ("total", "7,973.19"), ("basic", "4,450.46"), ("project", "3,522.73"),
                    ("remit_superior", "0.00"), ("operating", "0.00"), ("subsidy_affiliated", "0.00"))]},
            {"code": "T04", "completeness": "TABLE_COMPLETENESS_PARTIAL", "rows": [
                row("gpb", ("expenditure", "7,070.64")),
                row("gov_fund", ("carryover_begin", "0.00"), ("income", "0.00"), ("expenditure", "0.00"),
                    ("carryover_end", "0.00")),
                row("state_capital", ("carryover_begin", "0.00"), ("income", "0.00"), ("expenditure", "0.00"),
                    ("carryover_end", "0.00")),
                row("total", ("carryover_begin", "0.00"), ("income", "7,070.64"), ("expenditure", "7,070.64"),
                    ("carryover_end", "0.00"))]},
            {"code": "T05", "completeness": "TABLE_COMPLETENESS_PARTIAL", "rows": [
                row(code, ("total", v)) for code, v in [
                    ("207", "7,057.75"), ("229", "12.89"), ("2013404", "0.00"), ("2070111", "0.00"),
                    ("2070604", "0.00"), ("2070605", "6,588.51"), ("2070699", "0.00"), ("2070808", "438.05"),
                    ("2079999", "31.19"), ("2299999", "12.89")]
            ] + [row("total", ("total", "7,070.64"), ("basic", "3,740.26"))]},
            {"code": "T06", "completeness": "TABLE_COMPLETENESS_PARTIAL", "rows": [
                row("total", *amount("3,740.26")), row("personnel", *amount("3,691.49")),
                row("public", *amount("48.77"))]},
            {"code": "T07", "declared_empty": True},
            {"code": "T08", "declared_empty": True},
            {"code": "T09", "completeness": "TABLE_COMPLETENESS_COMPLETE", "rows": [
                row(code, ("budget", "0.00"), ("final", "0.00")) for code in
                ["total", "abroad", "vehicles", "vehicle_purchase", "vehicle_operation", "reception"]]},
        ],
        "staffing": {"total": 269, "in_service": 170, "in_service_change": -11, "retired_cadres": 0,
                     "retired_cadres_change": 0, "retirees": 99, "retirees_change": 0, "subordinate_units": 0,
                     "internal_offices": 18},
        "three_public_counts": {"delegations": 0, "delegation_trips": 0, "vehicles_purchased": 0,
                                "vehicles_held": 0, "receptions": 0, "reception_visitors": 0},
        "procurement": {"total": dec("2,476.97"), "goods": dec("785.78"), "works": dec("197.10"),
                        "services": dec("1,494.09"), "sme_contracts": dec("2,476.97"), "sme_share": dec("100.00"),
                        "small_micro_contracts": dec("2,476.97"), "small_micro_share": dec("100.00")},
        "assets": {"building_area_m2": dec("7,353.10"), "building_value": dec("519.61"), "vehicles": 8,
                   "vehicle_value": dec("296.94"),
                   "vehicles_by_use": {"senior_officials": 0, "principal": 0, "confidential_communication": 0,
                                       "emergency": 0, "law_enforcement": 0, "special_technical": 2,
                                       "retiree_service": 0, "other": 6},
                   "other_vehicles_purpose": "单位业务用车，保障工作正常运行", "equipment_over_1m": 8},
        "operating_expenses": {"public_expenses": dec("48.77")},
        "narrative": narrative(lines),
        "unit_evaluation": unit_evaluation(rows_of(lines, unit_start, starts[0] - 4)),
        "project_evaluations": projects,
    }
    assert len(projects) == 33, len(projects)
    json.dump(disclosure, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/000_f999840975c11714.txt")
