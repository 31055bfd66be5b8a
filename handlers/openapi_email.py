"""The OpenAPI part of missed-message email (README "Missed-message email"), added to the
document by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from handlers.openapi_schemas import BOOL, STR, Schema, obj, ref


def add_email_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add the routes and their schemas."""
    from handlers.openapi import _data, _json, _op, _path, _query  # the document's own helpers
    components["EmailPreferences"] = obj(["email"], {"email": obj(
        ["available", "enabled", "addressKnown", "previews", "previewsAllowed"], {
            "available": dict(BOOL, description="the server sends email (SMTP is configured)"),
            "enabled": dict(BOOL, description="the caller gets missed-message email"),
            "addressKnown": dict(BOOL, description="the roster or the token gave an address"),
            "previews": dict(BOOL, description="the caller's emails quote the messages (staff, when allowed)"),
            "previewsAllowed": dict(BOOL, description="the caller is staff and the school allows previews")},
        additionalProperties=False)}, additionalProperties=False)
    components["EmailPreferencesChange"] = obj(["email"], {"email": {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "properties": {"enabled": BOOL, "previews": dict(BOOL, description="true: 403 unless the caller is staff "
                                                                             "and the school allows previews")}}},
        additionalProperties=False)
    components["SchoolNotifications"] = obj(["schoolId", "notifications"], {
        "schoolId": STR, "notifications": ref("SchoolNotificationsChange")}, additionalProperties=False)
    components["SchoolNotificationsChange"] = obj(["staffEmailPreviews"], {
        "staffEmailPreviews": dict(BOOL, description="staff may ask for message text in their emails "
                                                     "(students' emails never have any)")},
        additionalProperties=False)
    paths["/api/me/notifications"] = {
        "get": _op("The caller's notification preferences", {
            200: _json(_data(ref("EmailPreferences")), "the preferences")}, []),
        "patch": _op("Change some of the caller's notification preferences", {
            200: _json(_data(ref("EmailPreferences")), "the preferences now")}, [403],
            body="EmailPreferencesChange")}
    school = _path("schoolId", "the caller's school id (another school's is 404)")
    ok = {200: _json(_data(ref("SchoolNotifications")), "the school's notification settings")}
    paths["/api/schools/{schoolId}/notifications"] = {
        "get": _op("The school's notification settings (its admins only)", ok, [403, 404], params=[school]),
        "put": _op("Change the school's notification settings (its admins only; recorded in the audit)", ok,
                   [403, 404], params=[school], body="SchoolNotificationsChange")}
    # any string: read only to check the signature, and then a wrong one is a 403, not malformed input
    link = [_query("u", STR, "the user the link was signed for", any_text=True),
            _query("sig", STR, "the link's signature", any_text=True)]
    page = {"description": "a page whose button unsubscribes",
            "content": {"text/html": {"schema": {"type": "string"}}}}
    done = _json(_data(obj(["unsubscribed"], {"unsubscribed": {"const": True}}, additionalProperties=False)),
                 "unsubscribed (an HTML page instead when the confirmation page's form posted)")
    done["content"]["text/html"] = {"schema": {"type": "string"}}
    unsubscribe_post = _op("One-click unsubscribe from missed-message email (RFC 8058): the link's signature "
                           "is the authority; the body (List-Unsubscribe=One-Click) is not needed",
                           {200: done}, [403, 413], params=link, auth=False)
    unsubscribe_post["requestBody"] = {"required": False, "content": {"application/x-www-form-urlencoded": {
        "schema": {"type": "object", "properties": {"List-Unsubscribe": {"const": "One-Click"}}}}}}
    paths["/api/notifications/unsubscribe"] = {
        "get": _op("The page of an unsubscribe link (shows a button; changes nothing)", {200: page}, [403],
                   params=link, auth=False),
        "post": unsubscribe_post}
