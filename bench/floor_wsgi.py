"""The floor of the HTTP route figures (bench/route.py): a WSGI app that
reads the request and answers every one with the same route decision, under
the same gunicorn and the same clients, without Django. What the route
measures above it is the application's."""

ANSWER = (
    b'{"route_id":"Qm9vdHN0cmFwcGVkLXJvdXRlLWlkLTAw","model":"bench-m0",'
    b'"policy_version":1,"probability":"0.9050000000","explored":false}'
)
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]


def application(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", HEADERS)
    return [ANSWER]
