"""A tiny WSGI app that uses docopt, a package PyPI has only as an sdist (docopt-0.6.2.tar.gz):
kiln/python builds it into a wheel with pip in kiln's jail. waitress (a wheel) serves it on
$PORT (default 8080); `python app.py` is kiln/python's default `web` process.
"""

import os

import docopt

USAGE = """Usage: greet [--name=NAME]

Options:
  --name=NAME  who to greet [default: world]
"""


def app(environ, start_response):
    args = docopt.docopt(USAGE, argv=["--name=kiln"])
    body = f"Hello {args['--name']} from docopt {docopt.__version__}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    from waitress import serve

    serve(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))
