"""Hostile inputs, built in the tests: files that cost far more to read than their size says
(a token-heavy PDF, an XML-heavy Word file), a PDF decompression bomb, a cut UTF-16 file, and
a loopback server that trickles its answer."""

from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
import zlib


def pdf_with_content(content: bytes) -> bytes:
    """A one-page PDF whose page content stream is `content`, Flate-compressed."""
    body = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def token_heavy_pdf() -> bytes:
    """About 20 KB that take pypdf minutes to read: 400,000 text operators."""
    return pdf_with_content(b"BT /F1 12 Tf " + b"1 0 0 1 0 0 Tm (a) Tj " * 400_000 + b"ET")


def pdf_bomb() -> bytes:
    """About 120 KB whose page stream inflates past pypdf's own limit (LimitReachedError)."""
    return pdf_with_content(b"BT /F1 12 Tf (a) Tj ET " + b" " * 120_000_000)


def xml_heavy_docx(runs: int = 300_000) -> bytes:
    """A Word file of a few hundred KB whose document.xml holds `runs` tiny runs: python-docx
    takes many seconds to parse it, though it inflates far below the zip-bomb limit."""
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    run = "<w:r><w:t>ا</w:t></w:r>"
    document = f"<w:document {w}><w:body><w:p>{run * runs}</w:p></w:body></w:document>"
    types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", document)
    return out.getvalue()


def cut_utf16(text: str) -> bytes:
    """`text` in UTF-16 with its byte order mark, cut one byte short (an odd byte count)."""
    return text.encode("utf-16")[:-1]


class TricklingServer:
    """A loopback HTTP server that sends its headers, then one byte every `every` seconds,
    forever (until stopped): a fetch must end at its own deadline, not the server's pace."""

    def __init__(self, every: float = 0.5):
        self.every = every
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/article.html"
        self.connections = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>")
            while not self.stopped.wait(self.every):
                conn.sendall(b" ")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


def wait_for(predicate, timeout: float = 10.0, every: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return predicate()
