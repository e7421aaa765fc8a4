"""The one run folder every job writes into: claim, identity, resume policy, owned files."""

import json
import os

import pytest

from backproplab.errors import BackproplabError
from backproplab.io import RunFolder, differences, write_text


def folder(path, **kw):
    return RunFolder(path, "job.json", kind="job", owned=("out.csv", "events.*"), **kw)


def test_a_new_folder_gets_the_marker_with_identity_and_versions(tmp_path):
    assert folder(tmp_path / "new").open({"plan": {"seeds": 3}}, versions_of=("numpy",)) is None
    meta = json.loads((tmp_path / "new" / "job.json").read_text())
    assert meta["plan"] == {"seeds": 3}
    assert meta["versions"]["backproplab"] and "numpy" in meta["versions"]


def test_the_same_job_resumes_and_another_is_refused_naming_what_differs(tmp_path):
    folder(tmp_path).open({"plan": {"seeds": 3, "passes": 10}})
    assert folder(tmp_path).open({"plan": {"seeds": 3, "passes": 10}})["plan"]["seeds"] == 3
    with pytest.raises(BackproplabError, match=r"holds another job: seeds=3 there, 4 here"):
        folder(tmp_path).open({"plan": {"seeds": 4, "passes": 10}})


def test_free_keys_may_differ_on_resume(tmp_path):
    folder(tmp_path).open({"config": {"lr": 1, "threads": 1}})
    assert folder(tmp_path).open({"config": {"lr": 1, "threads": 2}}, resume=True,
                                 free=("config.threads",)) is not None


def test_explicit_policy_needs_resume_or_overwrite(tmp_path):
    folder(tmp_path).open({"config": {"lr": 1}}, resume=False)
    with pytest.raises(BackproplabError, match="already holds a job.*--resume.*--overwrite"):
        folder(tmp_path).open({"config": {"lr": 2}}, resume=False)
    with pytest.raises(BackproplabError, match="holds no job to resume"):
        folder(tmp_path / "empty").open({"config": {"lr": 2}}, resume=True)


def test_overwrite_removes_the_jobs_files_and_nothing_else(tmp_path):
    folder(tmp_path).open({"config": {"lr": 1}}, resume=False)
    write_text(tmp_path / "out.csv", "a\n")
    write_text(tmp_path / "events.1", "x")
    write_text(tmp_path / "notes.txt", "mine")
    folder(tmp_path).open({"config": {"lr": 2}}, resume=False, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".backproplab.lock", "job.json",
                                                          "notes.txt"]
    assert json.loads((tmp_path / "job.json").read_text())["config"] == {"lr": 2}


def test_overwrite_refuses_a_special_file_in_place_of_an_owned_one(tmp_path):
    folder(tmp_path).open({"config": {"lr": 1}}, resume=False)
    os.mkfifo(tmp_path / "out.csv")
    with pytest.raises(BackproplabError, match="not a regular file"):
        folder(tmp_path).open({"config": {"lr": 2}}, resume=False, overwrite=True)
    assert (tmp_path / "job.json").is_file()  # nothing was deleted


@pytest.mark.parametrize("content", ["null", "[1, 2]", "{not json"])
def test_a_marker_that_is_not_a_json_object_is_refused(tmp_path, content):
    (tmp_path / "job.json").write_text(content)
    with pytest.raises(BackproplabError, match="job.json"):
        folder(tmp_path).open({"plan": {}})


def test_a_folder_of_other_files_or_a_file_is_refused(tmp_path):
    (tmp_path / "theirs.txt").write_text("x")
    with pytest.raises(BackproplabError, match="not empty"):
        folder(tmp_path).open({"plan": {}})
    with pytest.raises(BackproplabError, match="is a file"):
        folder(tmp_path / "theirs.txt").open({"plan": {}})


def test_differences_compare_as_json_reads_back_and_name_long_values_only():
    assert differences({"dims": [2, 3]}, {"dims": (2, 3)}) == []
    assert differences({"a": "x" * 60}, {"a": "y" * 60}) == ["a differs"]
