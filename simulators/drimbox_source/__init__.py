"""The DRIMbox Source the harness plays when the RIS is the system under test (``drimva ris``).

An MLLP listener (:class:`DrimboxSourceSimulator`) that writes every message to
the evidence, judges it (:func:`report_judge`: the RIS rules of
``drimva.ris_judge``) and answers the technical ACK built from the findings
(:mod:`simulators.drimbox_source.ack`).
"""

from __future__ import annotations

from collections.abc import Callable

from drimva.hl7msg import Hl7Error, parse_message
from drimva.ris_judge import ReportJudgement, RisJudgeOptions, judge_report
from simulators.drimbox_source.ack import build_ack
from simulators.drimbox_source.server import DrimboxSourceSimulator, Received

__all__ = ["DrimboxSourceSimulator", "Received", "build_ack", "report_judge"]


def report_judge(options: RisJudgeOptions) -> Callable[[bytes], tuple[ReportJudgement, str]]:
    """The listener's judge: the judgement of a raw message and its ACK (AR when judging itself failed)."""

    def judge(raw: bytes) -> tuple[ReportJudgement, str]:
        try:
            judgement = judge_report(raw, options)
        except Exception as error:  # noqa: BLE001 - a harness bug: answer AR (circumstantial), keep the message for the steps
            try:
                message = parse_message(raw)
            except Hl7Error:
                message = None
            reason = f"harness error while judging: {type(error).__name__}: {error}"
            return ReportJudgement(raw, message, [], harness_error=reason), build_ack(message, [], judged=False, reason=reason)
        return judgement, build_ack(judgement.message, judgement.findings)

    return judge
