"""The playground: train the problem set's networks live in the browser, on the NumPy engine.

  backproplab playground            starts a local server and opens the page

Modules: `messages` (every message the page may send, as a table of fields, and the CSV
reader), `session` (one browser tab: its data, its network, the worker thread that trains it
with the engine's `fit_model`, and what the page shows: frames, the explained step, seeds,
exports), `server` (Starlette app: the page, the WebSocket stream, session limits), `command`
(the `playground` subcommand). The page itself is `static/` (plain HTML, CSS and JavaScript: it
draws what the server computes and computes nothing of the network).
"""

MAX_SESSIONS = 8  # tabs training at once (`--max-sessions`); each has one training thread
