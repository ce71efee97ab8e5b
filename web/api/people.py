"""People and their roles, for the system administrator."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import fields

from engine.domain.errors import Invalid

from ..auth import current_username, engine
from .common import BEARER, In, blp, created, raw_body

ACTIVE = {"1": True, "0": False, "true": True, "false": False}


class PersonIn(In):
    username = fields.Raw(metadata={"description": "用户名（新建时）"})
    name = fields.Raw(metadata={"description": "姓名"})
    phone = fields.Raw(allow_none=True, metadata={"description": "11位手机号"})
    email = fields.Raw(allow_none=True, metadata={"description": "电子邮箱"})
    password = fields.Raw(allow_none=True, metadata={"description": "密码（新建、重置时；不填则生成一次性密码）"})
    roles = fields.Raw(metadata={"description": "角色：[{role, village|township|county}]，同导入文件"})
    active = fields.Raw(metadata={"description": "true 启用，false 停用"})


@blp.route("/people")
class People(MethodView):
    @blp.doc(security=BEARER)
    def get(self):
        """人员列表（系统管理员）：?village=&township=&role=&active=1|0"""
        args = request.args
        return jsonify(engine().people(current_username(), village=args.get("village") or None,
                                       township=args.get("township") or None, role=args.get("role") or None,
                                       active=ACTIVE.get(args.get("active", ""))))

    @blp.arguments(PersonIn)
    @blp.doc(security=BEARER)
    def post(self, _body):
        """新建人员（系统管理员）；不给密码时返回一次性密码 password（只此一次）"""
        person, generated = engine().create_person(current_username(), raw_body())
        return created({**person, **({"password": generated} if generated else {})})


@blp.route("/people/<string:target>")
class Person(MethodView):
    @blp.doc(security=BEARER)
    def get(self, target):
        """一个人员（系统管理员）"""
        return jsonify(engine().person(current_username(), target))

    @blp.arguments(PersonIn)
    @blp.doc(security=BEARER)
    def patch(self, _body, target):
        """修改姓名、手机号、邮箱、角色（整组替换），active 停用或启用（系统管理员）"""
        body = raw_body()
        user = current_username()
        engine().person(user, target)  # the admin only (403), an existing person (404)
        if "active" in body and not isinstance(body["active"], bool):
            raise Invalid("active 必须是 true 或 false", {"active": ["必须是 true 或 false"]})
        changes = {k: body[k] for k in ("name", "phone", "email", "roles") if k in body}
        if changes or "active" not in body:
            engine().update_person(user, target, changes)
        if "active" in body:
            engine().set_person_active(user, target, body["active"])
        return jsonify(engine().person(user, target))


@blp.route("/people/<string:target>/password")
class PersonPassword(MethodView):
    @blp.arguments(PersonIn)
    @blp.doc(security=BEARER)
    def post(self, _body, target):
        """重置密码（系统管理员）：给 password 则用之，否则生成一次性密码；此人的登录和令牌全部失效"""
        given = raw_body().get("password")
        password = engine().reset_password(current_username(), target, given if given not in (None, "") else None)
        return jsonify({"password": password} if given in (None, "") else {}), 200
