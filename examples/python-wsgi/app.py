"""A tiny WSGI app served by waitress on $PORT (default 8080).

`python app.py` serves it (kiln/python's default `web` process for an app.py);
`waitress-serve --port=$PORT app:app` serves the same `app`.
"""

import os
import sys


def app(environ, start_response):
    body = f"Hello from kiln python {sys.version_info.major}.{sys.version_info.minor}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    from waitress import serve

    serve(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))
