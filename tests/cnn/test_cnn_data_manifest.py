"""A checksum manifest covers every file it is used for: a file without a line is refused."""

import pytest

from backproplab import data as idx
from backproplab.errors import BackproplabError


@pytest.mark.parametrize("stem", list(idx.FILES.values()))
def test_a_file_missing_from_the_manifest_is_refused_not_used_unchecked(data_copy, stem):
    manifest = data_copy / idx.MANIFEST
    manifest.write_text("".join(line + "\n" for line in manifest.read_text().splitlines()
                                if not line.endswith(stem)))
    with pytest.raises(BackproplabError, match=f"has no MD5 for {stem}: every file"):
        idx.locate("mnist", data_copy, download=False)
