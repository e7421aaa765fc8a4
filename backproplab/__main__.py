"""`python -m backproplab ...` (also what `torchrun -m backproplab` runs)."""

from backproplab.cli import main

raise SystemExit(main())
