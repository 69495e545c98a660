"""The 24 questions of the SafeLives DASH risk identification checklist (Dash RIC), as data.

The hub stores a DASH as answers keyed `q1`..`q24` (contract section 3); a page that shows
only `q14: yes` means nothing to a MARAC member. This is the one place that says what
each key asks, so that the referral form and every page that shows a DASH write the same
question beside its answer. The wording follows the SafeLives Dash risk checklist (the
CAADA-DASH RIC of 2009, 24 questions, high risk at 14 or more "yes"); "(the abuser)"
stands where the checklist leaves room for the abuser's name. Each question's longer
guidance (what to note beside it) is the checklist's own and is kept short here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DashQuestion:
    """One question: its key in a DASH's `answers`, its wording, and a short note."""

    key: str
    text: str
    note: str = ""

    @property
    def number(self) -> int:
        return int(self.key[1:])


QUESTIONS: tuple[DashQuestion, ...] = (
    DashQuestion(
        "q1",
        "Has the current incident resulted in injury?",
        "State what, and whether this is the first injury.",
    ),
    DashQuestion("q2", "Are you very frightened?"),
    DashQuestion(
        "q3",
        "What are you afraid of? Is it further injury or violence?",
        "What you think (the abuser) might do, and to whom, children included.",
    ),
    DashQuestion(
        "q4",
        "Do you feel isolated from family or friends, that is, does (the abuser) "
        "try to stop you from seeing friends, family, your doctor or others?",
    ),
    DashQuestion("q5", "Are you feeling depressed or having suicidal thoughts?"),
    DashQuestion(
        "q6", "Have you separated or tried to separate from (the abuser) within the past year?"
    ),
    DashQuestion("q7", "Is there conflict over child contact?"),
    DashQuestion(
        "q8",
        "Does (the abuser) constantly text, call, contact, follow, stalk or harass you?",
        "Whether you believe it is done deliberately to intimidate you.",
    ),
    DashQuestion("q9", "Are you pregnant or have you recently had a baby (in the past 18 months)?"),
    DashQuestion("q10", "Is the abuse happening more often?"),
    DashQuestion("q11", "Is the abuse getting worse?"),
    DashQuestion(
        "q12",
        "Does (the abuser) try to control everything you do and/or are they excessively jealous?",
        "Consider 'honour'-based violence.",
    ),
    DashQuestion("q13", "Has (the abuser) ever used weapons or objects to hurt you?"),
    DashQuestion(
        "q14", "Has (the abuser) ever threatened to kill you or someone else and you believed them?"
    ),
    DashQuestion(
        "q15", "Has (the abuser) ever attempted to strangle, choke, suffocate or drown you?"
    ),
    DashQuestion(
        "q16",
        "Does (the abuser) do or say things of a sexual nature that make you "
        "feel bad or that physically hurt you or someone else?",
    ),
    DashQuestion(
        "q17",
        "Is there any other person who has threatened you or who you are afraid of?",
        "Consider extended family if 'honour'-based violence.",
    ),
    DashQuestion(
        "q18",
        "Do you know if (the abuser) has hurt anyone else?",
        "Children, siblings, elderly relatives, someone from a previous relationship.",
    ),
    DashQuestion("q19", "Has (the abuser) ever mistreated an animal or the family pet?"),
    DashQuestion(
        "q20",
        "Are there any financial issues? For example, are you dependent on "
        "(the abuser) for money, or have they recently lost their job?",
    ),
    DashQuestion(
        "q21",
        "Has (the abuser) had problems in the past year with drugs "
        "(prescription or other), alcohol or mental health leading to problems in "
        "leading a normal life?",
    ),
    DashQuestion("q22", "Has (the abuser) ever threatened or attempted suicide?"),
    DashQuestion(
        "q23",
        "Has (the abuser) ever broken bail, an injunction and/or a formal "
        "agreement for when they can see you and/or the children?",
    ),
    DashQuestion(
        "q24",
        "Do you know if (the abuser) has ever been in trouble with the police "
        "or has a criminal history?",
    ),
)
"""The checklist in its order: `QUESTIONS[n - 1].key == f"q{n}"`."""

WORDING: dict[str, str] = {q.key: q.text for q in QUESTIONS}
"""A DASH key's question (`WORDING["q15"]`)."""
