"""API tokens: log in for one, revoke it."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from engine.domain.errors import Forbidden, NotAuthenticated

from ..auth import bearer_token, current_username, engine, issue_token, login
from .common import BEARER, In, blp


class TokenIn(In):
    username = fields.String(required=True, metadata={"description": "用户名"},
                             error_messages={"required": "请填写用户名"})
    password = fields.String(required=True, metadata={"description": "密码"},
                             error_messages={"required": "请填写密码"})


class TokenOut(Schema):
    token = fields.String()


@blp.route("/auth/token")
class Token(MethodView):
    @blp.arguments(TokenIn)
    @blp.response(200, TokenOut)
    def post(self, body):
        """登录，换取 API 令牌（同一账号15分钟内最多输错5次，同一地址最多20次）"""
        user = login(body["username"], body["password"])
        if user is None:
            raise NotAuthenticated("用户名或密码错误")
        if user.must_change_password:
            raise Forbidden("这是管理员给的一次性密码：请先在网页上登录，改成自己的密码")
        return {"token": issue_token(user)}

    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self):
        """注销当前 API 令牌（此后该令牌一律401）"""
        current_username()
        engine().accounts.revoke(bearer_token())
        return None
