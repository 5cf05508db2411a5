"""The status workflow and the evidence checks, worked by hand."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from emplan_shared.errors import Conflict, Forbidden, UnprocessableEntity
from task_assignment.work import workflow
from task_assignment.work.evidence import EvidenceTooLarge, EvidenceTypeForbidden, check_file
from task_assignment.work.workflow import Action, Capacity, TaskStatus

LEAD, CO, BUREAU = {Capacity.lead}, {Capacity.co}, {Capacity.bureau}


class TestWorkflow:
    def test_happy_path(self) -> None:
        status = TaskStatus.not_started
        assert workflow.status_after_report(status) == TaskStatus.in_progress
        status = TaskStatus.in_progress
        assert workflow.status_after_report(status) is None  # further reports change nothing
        status = workflow.apply(status, Action.claim_completion, LEAD)
        assert status == TaskStatus.completed
        status = workflow.apply(status, Action.close, BUREAU)
        assert status == TaskStatus.closed

    def test_return_then_report_then_claim_again(self) -> None:
        status = workflow.apply(TaskStatus.completed, Action.return_, BUREAU, "佐证材料不全")
        assert status == TaskStatus.returned
        assert workflow.status_after_report(status) == TaskStatus.in_progress
        # the lead may also claim straight from returned (e.g. it only added the missing evidence)
        assert workflow.apply(TaskStatus.returned, Action.claim_completion, LEAD) == TaskStatus.completed

    def test_start_by_any_assigned_unit(self) -> None:
        for capacity in (LEAD, CO, BUREAU):
            assert workflow.apply(TaskStatus.not_started, Action.start, capacity) == TaskStatus.in_progress

    @pytest.mark.parametrize(
        ("action", "capacities"),
        [
            (Action.claim_completion, CO),
            (Action.claim_completion, BUREAU),
            (Action.close, LEAD),
            (Action.close, CO),
            (Action.return_, LEAD),
            (Action.start, set()),
        ],
    )
    def test_wrong_capacity_is_forbidden(self, action: Action, capacities: set[Capacity]) -> None:
        with pytest.raises(Forbidden) as caught:
            workflow.apply(TaskStatus.completed, action, capacities, "理由")
        assert caught.value.code == "action_not_permitted"

    @pytest.mark.parametrize(
        ("status", "action", "capacities"),
        [
            (TaskStatus.not_started, Action.claim_completion, LEAD),  # nothing reported yet
            (TaskStatus.in_progress, Action.close, BUREAU),  # the lead has not claimed it
            (TaskStatus.in_progress, Action.return_, BUREAU),
            (TaskStatus.completed, Action.claim_completion, LEAD),
            (TaskStatus.in_progress, Action.start, LEAD),
            (TaskStatus.returned, Action.close, BUREAU),
        ],
    )
    def test_transition_from_the_wrong_status_conflicts(
        self, status: TaskStatus, action: Action, capacities: set[Capacity]
    ) -> None:
        with pytest.raises(Conflict) as caught:
            workflow.apply(status, action, capacities, "理由")
        assert caught.value.code == "transition_not_allowed"
        assert caught.value.status_code == 409

    @pytest.mark.parametrize("action", list(Action))
    def test_closed_is_final(self, action: Action) -> None:
        with pytest.raises(Conflict) as caught:
            workflow.apply(TaskStatus.closed, action, {Capacity.lead, Capacity.co, Capacity.bureau}, "x")
        assert caught.value.code == "task_closed"

    def test_report_on_closed_is_refused(self) -> None:
        with pytest.raises(Conflict) as caught:
            workflow.status_after_report(TaskStatus.closed)
        assert caught.value.code == "task_closed"

    @pytest.mark.parametrize("reason", [None, "", "   "])
    def test_return_needs_a_reason(self, reason: str | None) -> None:
        with pytest.raises(UnprocessableEntity) as caught:
            workflow.apply(TaskStatus.completed, Action.return_, BUREAU, reason)
        assert caught.value.code == "reason_required"
        assert caught.value.errors[0].field == "body.reason"


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


ALLOWED = ["pdf", "docx", "xlsx", "jpg", "jpeg", "png"]


class TestEvidence:
    def test_pdf_accepted_with_checksum(self) -> None:
        content = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
        checked = check_file("验收报告.PDF", content, allowed=ALLOWED, max_bytes=1024)
        assert checked.extension == "pdf"
        assert checked.media_type == "application/pdf"
        assert checked.size_bytes == len(content)
        assert checked.sha256 == hashlib.sha256(content).hexdigest()

    def test_office_files_told_apart(self) -> None:
        docx = _zip("[Content_Types].xml", "word/document.xml")
        xlsx = _zip("[Content_Types].xml", "xl/workbook.xml")
        assert check_file("a.docx", docx, allowed=ALLOWED, max_bytes=10_000).media_type.endswith(
            "wordprocessingml.document"
        )
        assert check_file("a.xlsx", xlsx, allowed=ALLOWED, max_bytes=10_000).extension == "xlsx"
        with pytest.raises(EvidenceTypeForbidden) as caught:
            check_file("a.docx", xlsx, allowed=ALLOWED, max_bytes=10_000)
        assert caught.value.errors[0].code == "content_mismatch"

    def test_images(self) -> None:
        assert check_file("现场.jpg", b"\xff\xd8\xff\xe0rest", allowed=ALLOWED, max_bytes=100).media_type == (
            "image/jpeg"
        )
        assert (
            check_file("x.png", b"\x89PNG\r\n\x1a\nrest", allowed=ALLOWED, max_bytes=100).extension == "png"
        )

    @pytest.mark.parametrize(
        "filename",
        ["run.exe", "noextension", "表.xls", "script.pdf.js", "x.ofd"],  # ofd known but not allowed
    )
    def test_forbidden_types(self, filename: str) -> None:
        with pytest.raises(EvidenceTypeForbidden) as caught:
            check_file(filename, b"%PDF-1.4", allowed=ALLOWED, max_bytes=100)
        assert caught.value.status_code == 415
        assert caught.value.errors[0].code == "type_forbidden"

    def test_renamed_executable_is_refused(self) -> None:
        with pytest.raises(EvidenceTypeForbidden):
            check_file("报告.pdf", b"MZ\x90\x00", allowed=ALLOWED, max_bytes=100)

    def test_size_limit_is_inclusive(self) -> None:
        content = b"%PDF-" + b"x" * 95  # exactly 100 bytes
        assert check_file("a.pdf", content, allowed=ALLOWED, max_bytes=100).size_bytes == 100
        with pytest.raises(EvidenceTooLarge) as caught:
            check_file("a.pdf", content + b"x", allowed=ALLOWED, max_bytes=100)
        assert caught.value.status_code == 413
