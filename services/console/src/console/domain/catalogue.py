"""The dashboard's list of indicators (domain.md, "Indicators"): each one's key (the CSV's
column), its words on the page, and its group; in the order the page shows them."""

from __future__ import annotations

from dataclasses import dataclass

from shared.topics import AGENCIES


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    group: str


AGENCY_LABELS = {
    "childrens-social-care": "children's social care",
    "idva": "IDVA service",
    "victim-support": "victim support",
    "safeguarding-team": "police safeguarding team",
    "school": "schools (Operation Encompass)",
}


def agency_label(agency: str) -> str:
    return AGENCY_LABELS.get(agency, agency)


INDICATORS: tuple[Indicator, ...] = (
    Indicator("incidents", "Incidents", "Incidents"),
    Indicator("dash_at_first_report", "With a DASH at first report", "Incidents"),
    Indicator("dash_later", "DASH completed later", "Incidents"),
    Indicator("not_assessed", "Not assessed", "Incidents"),
    Indicator("risk_standard", "Standard risk", "Risk"),
    Indicator("risk_medium", "Medium risk", "Risk"),
    Indicator("risk_high", "High risk", "Risk"),
    Indicator("regraded_up", "Re-graded up by the CRU", "Risk"),
    Indicator("regraded_down", "Re-graded down by the CRU", "Risk"),
    Indicator("regraded_share", "Share re-graded (%)", "Risk"),
    Indicator("repeat_victims", "Repeat victims", "Repeats and escalation"),
    Indicator(
        "repeat_victim_share",
        "Share of incidents with a repeat victim (%)",
        "Repeats and escalation",
    ),
    Indicator("potential_escalations", "Potential escalations", "Repeats and escalation"),
    Indicator("serial_perpetrators", "Serial perpetrators", "Repeats and escalation"),
    Indicator(
        "priority_perpetrators",
        "Perpetrators in the priority cohort, by when their score was set",
        "Repeats and escalation",
    ),
    Indicator("incidents_with_children", "Incidents with children", "Children"),
    Indicator(
        "children_referred", "Children in incidents referred to children's social care", "Children"
    ),
    Indicator("school_notices_delivered", "School notices delivered", "Children"),
    Indicator(
        "school_notices_before_school_day",
        "School notices delivered before the school day started (08:30)",
        "Children",
    ),
    Indicator(
        "school_notices_before_school_day_share",
        "Share of school notices delivered before the school day (%)",
        "Children",
    ),
    *(
        Indicator(
            f"referrals_{a.replace('-', '_')}", f"Referrals to {agency_label(a)}", "Referrals"
        )
        for a in AGENCIES
    ),
    Indicator("referrals_delivered", "Referrals delivered (webhook answered 2xx)", "Referrals"),
    Indicator("referrals_dead", "Referral deliveries given up (dead)", "Referrals"),
    Indicator(
        "referrals_acknowledged_in_time",
        "Referrals acknowledged within their due time",
        "Referrals",
    ),
    Indicator(
        "referrals_overdue", "Referrals overdue (not acknowledged by the due time)", "Referrals"
    ),
    Indicator("marac_cases_listed", "MARAC cases listed", "MARAC"),
    Indicator("marac_repeat_cases", "MARAC repeat cases", "MARAC"),
    Indicator("marac_repeat_share", "MARAC repeat share (%; SafeLives expects 28 to 40)", "MARAC"),
    Indicator("marac_meetings", "MARAC meetings with cases listed", "MARAC"),
    Indicator("marac_cases_per_meeting", "MARAC cases per meeting", "MARAC"),
    Indicator(
        "marac_cases_per_10000_women_year",
        "MARAC cases a year per 10,000 adult women (benchmark 40)",
        "MARAC",
    ),
    Indicator(
        "marac_partner_referred_cases",
        "MARAC cases referred by a partner agency (not the police)",
        "MARAC",
    ),
    Indicator("marac_cases_discussed", "MARAC cases discussed (by meeting date)", "MARAC"),
    Indicator(
        "marac_research_returned",
        "Agencies' research returned before the meeting, on the cases discussed",
        "MARAC",
    ),
    Indicator("marac_actions_due", "MARAC actions due (by due date)", "MARAC"),
    Indicator("marac_actions_overdue", "MARAC actions overdue (not done by the due date)", "MARAC"),
    Indicator("dip_samples", "Dip samples taken", "Quality"),
)
KEYS = tuple(i.key for i in INDICATORS)
