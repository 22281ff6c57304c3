"""
A Digital Loggers web power switch, as far as its outlet control goes.

- ``GET /outlet?N=ON|OFF`` switches outlet N (1..8) and answers 302 to
  ``/index.htm``, as the switch does;
- ``GET /index.htm`` is the status page with ``<!-- state=XX lock=00 -->``
  (XX: hexadecimal mask of the outlets that are on, outlet N = bit N-1).

Every request needs HTTP Basic credentials (401 otherwise) and is recorded in
:attr:`FakeDLI.requests`.
"""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import Request

from tests.fakes.webbase import Seen, refuse, seen

OUTLETS = 8


class FakeDLI(Resource):
    isLeaf = True

    def __init__(self, user: str, password: str) -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.outlets = [False] * OUTLETS
        self.requests: list[Seen] = []
        #: what /index.htm shows instead of the status page, if set
        self.page: bytes | None = None

    def mask(self) -> int:
        return sum(1 << i for i, on in enumerate(self.outlets) if on)

    def render_GET(self, request: Request) -> bytes:
        what = seen(request)
        self.requests.append(what)
        if (what.user, what.password) != (self.user, self.password):
            return refuse(request, "DLI")
        if what.path == "/outlet":
            for name, values in what.args.items():
                if not name.isdigit() or not 1 <= int(name) <= OUTLETS or values != [values[0]] \
                        or values[0] not in ("ON", "OFF"):
                    request.setResponseCode(400)
                    return b"bad outlet command"
                self.outlets[int(name) - 1] = values[0] == "ON"
            request.redirect(b"/index.htm")
            return b""
        if what.path == "/index.htm":
            if self.page is not None:
                return self.page
            return (f"<html><head><title>Outlet Control</title></head>\n"
                    f"<!-- state={self.mask():02x} lock=00 -->\n<body>...</body></html>\n"
                    ).encode()
        request.setResponseCode(404)
        return b"not found"
