"""Flowcharts and posters: diagrams/ renders them (it knows no Flask); this answers them over HTTP."""

from __future__ import annotations

from flask import Response, current_app, request
from flask.views import MethodView

from ..auth import current_username
from ..errors import error_response
from .common import BEARER, blp


def diagram_response(rendered, *, public: bool) -> Response:
    """A rendered chart or poster as an HTTP answer (ETag, cache headers, conditional)."""
    response = Response(rendered.data, mimetype=rendered.mimetype.split(";")[0])
    if rendered.mimetype.startswith("image/svg"):
        response.headers["Content-Type"] = rendered.mimetype
    response.headers["Content-Disposition"] = f'inline; filename="{rendered.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(rendered.etag)
    response.cache_control.max_age = 300 if public else 0
    if public:
        response.cache_control.public = True
    else:
        response.cache_control.private = True
        response.cache_control.no_cache = True
    return response.make_conditional(request)


def not_implemented() -> Response:
    return error_response(501, "流程图功能尚未提供")


@blp.route("/processes/<string:key>/diagram")
class ProcessDiagram(MethodView):
    def get(self, key):
        """事项流程图（svg/png/pdf）；pdf/png 加 variant=villager 为村民版海报（大字，公示、异议、反映问题）"""
        renderer = current_app.extensions.get("cunwu_diagrams")
        if renderer is None:
            return not_implemented()
        args = request.args
        rendered = renderer.render_process(key, args.get("format"), args.get("paper"), args.get("village"),
                                           base_url=request.url_root, variant=args.get("variant"))
        return diagram_response(rendered, public=True)


@blp.route("/instances/<int:case_id>/diagram")
class InstanceDiagram(MethodView):
    @blp.doc(security=BEARER)
    def get(self, case_id):
        """事项流程图，标出当前步骤"""
        renderer = current_app.extensions.get("cunwu_diagrams")
        user = current_username()
        if renderer is None:
            return not_implemented()
        args = request.args
        rendered = renderer.render_case(user, case_id, args.get("format"), args.get("paper"),
                                        base_url=request.url_root)
        return diagram_response(rendered, public=False)
