"""
SOAP 1.1 and 1.2 envelopes with lxml: build them, parse them safely, find faults.

Used by the ``vmware`` driver (vSphere's SOAP 1.1 API) and the ``amt`` driver
(WS-Management, SOAP 1.2).  Parsing never resolves entities, never touches
the network and refuses huge trees: the XML comes from a device we do not
trust.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"

Element = Any  # lxml.etree._Element (kept loose for type checkers without stubs)


class SOAPError(Exception):
    """The answer was not a SOAP envelope we could read."""


class SOAPFault(Exception):
    """
    The server answered with a SOAP fault.

    :ivar code: the fault code (``faultcode`` or ``Code/Value``), as text.
    :ivar reason: the human-readable reason.
    :ivar detail: local names of the elements inside ``detail``/``Detail``
        (and their ``xsi:type``), e.g. ``["InvalidLoginFault", "InvalidLogin"]``.
    :ivar subcodes: SOAP 1.2 ``Subcode/Value`` texts (WS-Management puts its
        fault kind there, e.g. ``wsman:AccessDenied``).
    """

    def __init__(self, code: str, reason: str, detail: list[str], subcodes: list[str]) -> None:
        super().__init__(f"{code}: {reason}" if reason else code)
        self.code = code
        self.reason = reason
        self.detail = detail
        self.subcodes = subcodes

    def mentions(self, *names: str) -> bool:
        """True if any name appears in the code, subcodes or detail (case-insensitive)."""
        words = [self.code, *self.subcodes, *self.detail]
        lowered = " ".join(words).lower()
        return any(name.lower() in lowered for name in names)


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True,
        load_dtd=False,
    )


def qname(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def sub(parent: Element, namespace: str | None, name: str, text: str | None = None,
        attrib: Mapping[str, str] | None = None) -> Element:
    """Append a child element (namespace None: no namespace) and return it."""
    tag = qname(namespace, name) if namespace else name
    element = etree.SubElement(parent, tag, attrib=dict(attrib or {}))
    if text is not None:
        element.text = text
    return element


def element(namespace: str | None, name: str, text: str | None = None,
            attrib: Mapping[str, str] | None = None,
            nsmap: Mapping[str | None, str] | None = None) -> Element:
    tag = qname(namespace, name) if namespace else name
    node = etree.Element(tag, attrib=dict(attrib or {}), nsmap=dict(nsmap or {}))
    if text is not None:
        node.text = text
    return node


def envelope(body: Iterable[Element], *, header: Iterable[Element] = (),
             version: str = SOAP11, nsmap: Mapping[str, str] | None = None) -> bytes:
    """A serialised envelope holding the given header and body elements."""
    namespaces: dict[str | None, str] = {"s": version, "xsi": XSI, "xsd": XSD}
    namespaces.update(nsmap or {})
    root = etree.Element(qname(version, "Envelope"), nsmap=namespaces)
    header_items = list(header)
    if header_items:
        head = sub(root, version, "Header")
        head.extend(header_items)
    sub(root, version, "Body").extend(list(body))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")  # type: ignore[no-any-return]


def parse(data: bytes) -> Element:
    """The root element of data; SOAPError if it is not XML."""
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise SOAPError(f"the answer is not XML ({error})") from None
    if root is None:
        raise SOAPError("the answer is empty")
    return root


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def body_of(root: Element) -> Element:
    """The Body element of an envelope (either SOAP version)."""
    if _local(root.tag) != "Envelope" or etree.QName(root).namespace not in (SOAP11, SOAP12):
        raise SOAPError(f"the answer is not a SOAP envelope (root <{_local(root.tag)}>)")
    body = root.find(qname(etree.QName(root).namespace, "Body"))
    if body is None:
        raise SOAPError("the SOAP envelope has no Body")
    return body


def fault_of(root: Element) -> SOAPFault | None:
    """The fault in an envelope, or None."""
    body = body_of(root)
    fault = next((child for child in body if _local(child.tag) == "Fault"), None)
    if fault is None:
        return None
    ns = etree.QName(root).namespace
    if ns == SOAP12:
        code = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value", default="").strip()
        subcodes = [v.text.strip() for v in fault.iter(qname(ns, "Value"))
                    if v.text and v.text.strip() != code]
        reason = " ".join(t.text.strip() for t in fault.iter(qname(ns, "Text")) if t.text)
        detail_element = fault.find(qname(ns, "Detail"))
    else:
        code = (fault.findtext("faultcode") or "").strip()
        subcodes = []
        reason = (fault.findtext("faultstring") or "").strip()
        detail_element = fault.find("detail")
    detail: list[str] = []
    if detail_element is not None:
        for item in detail_element.iter():
            if item is detail_element or not isinstance(item.tag, str):
                continue
            detail.append(_local(item.tag))
            xsi_type = item.get(qname(XSI, "type"))
            if xsi_type:
                detail.append(xsi_type.rpartition(":")[2])
    return SOAPFault(code, reason, detail, subcodes)


def payload(data: bytes) -> Element:
    """The first element inside the Body of data; raises SOAPFault or SOAPError."""
    root = parse(data)
    fault = fault_of(root)
    if fault is not None:
        raise fault
    body = body_of(root)
    for child in body:
        if isinstance(child.tag, str):
            return child
    raise SOAPError("the SOAP Body is empty")


def local_name(node: Element) -> str:
    return _local(node.tag)


def children(node: Element, name: str) -> list[Element]:
    """Direct children of node with this local name, whatever their namespace."""
    return [child for child in node if _local(child.tag) == name]


def child(node: Element, name: str) -> Element | None:
    found = children(node, name)
    return found[0] if found else None


def child_text(node: Element, name: str, default: str = "") -> str:
    found = child(node, name)
    if found is None or found.text is None:
        return default
    return str(found.text).strip()


def descendants(node: Element, name: str) -> list[Element]:
    """Every element below node with this local name, in document order."""
    return [item for item in node.iter() if item is not node and _local(item.tag) == name]
