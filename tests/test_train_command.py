"""`backproplab train`: loss every 1000 passes, accuracies, a figure; never overwrites unasked."""

from backproplab.cli import main


def test_train_prints_loss_and_accuracy_and_saves_the_figure(tmp_path, capsys):
    out = tmp_path / "boundary.png"
    assert main(["train", "--passes", "2001", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Loss after iteration 0: 0.432387" in text  # the classic tutorial's first value
    assert "Loss after iteration 2000:" in text
    assert "train accuracy" in text and "test accuracy" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "boundary.png"
    out.write_bytes(b"keep me")
    assert main(["train", "--passes", "10", "--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(["train", "--passes", "10", "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes() != b"keep me"


def test_train_blobs_with_a_deep_network(tmp_path, capsys):
    out = tmp_path / "blobs.svg"
    assert main(["train", "--dataset", "blobs", "--dims", "2,4,4,4", "--passes", "1000",
                 "--activation", "ReLU", "--out", str(out)]) == 0
    assert out.read_text().lstrip().startswith("<?xml")
