#!/usr/bin/env bash
# One 四议两公开 decision from proposal to completion through the JSON API of the demo
# (start it first with bin/demo). Needs curl and python3.
set -euo pipefail
API=${API:-http://127.0.0.1:5000/api/v1}
json() { python3 -c "import sys, json; d = json.load(sys.stdin); print($1)"; }
token() {
  curl -sf -X POST "$API/auth/token" -H 'Content-Type: application/json' \
       -d "{\"username\": \"$1\", \"password\": \"demo123\"}" | json 'd["token"]'
}
ZHANG=$(token zhang)   # 村党组织书记
WANG=$(token wang)     # 村委会主任
ZHAO=$(token zhao)     # 村务监督委员会
ADMIN=$(token admin)   # 系统管理员 (moves the demo clock)
TODAY=$(TZ=Asia/Shanghai date +%F)   # meetings are recorded on the day they are held (not in the future)

# 1 提议: the secretary starts the case; the proposal is its data.
CASE=$(curl -sf -X POST "$API/instances" -H "Authorization: Bearer $ZHANG" -H 'Content-Type: application/json' \
  -d '{"process": "major-decision", "village": "demo-001", "title": "硬化村东道路",
       "data": {"title": "硬化村东道路", "summary": "村东道路1.2公里硬化为水泥路面", "amount": "180000"}}' \
  | json 'd["id"]')
echo "case $CASE"

# Complete the ready task named $2 as the person with token $1, with form data $3.
step() {
  local id
  id=$(curl -sf "$API/instances/$CASE" -H "Authorization: Bearer $1" \
       | json "[t['id'] for t in d['tasks'] if t['name'] == '$2' and t['state'] == 'ready'][0]")
  curl -sf -X POST "$API/tasks/$id/complete" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
       -d "{\"data\": $3}" | json '"  " + d["status"] + "  next: " + ", ".join(t["title"] for t in d["tasks"])'
}
approve='{"decision": "approve"}'

step "$ZHANG" two_committees '{"held_on": "'"$TODAY"'", "attended": 7, "approve": 6, "oppose": 1, "abstain": 0, "minutes": "两委会议商议"}'
step "$ZHAO"  review_two_committees "$approve"
step "$ZHANG" party_members '{"held_on": "'"$TODAY"'", "attended": 25, "approve": 20, "oppose": 3, "abstain": 2, "minutes": "党员大会审议"}'
step "$ZHAO"  review_party_members "$approve"
step "$WANG"  representatives '{"held_on": "'"$TODAY"'", "attended": 24, "approve": 20, "oppose": 2, "abstain": 2, "minutes": "村民代表会议表决"}'
step "$ZHAO"  review_resolution "$approve"
step "$WANG"  draft_resolution_disclosure '{"content": "经村民代表会议表决通过：硬化村东道路，预算18万元。", "notice_days": 7}'
step "$ZHAO"  review_resolution_disclosure "$approve"      # posted on the board: 7-day notice

# The case waits for the notice period. In the demo, move the clock 8 days (fires due timers).
curl -sf -X POST "$API/demo/clock" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
     -d '{"advance_days": 8}' | json '"  clock now " + d["now"]'

step "$WANG"  implement '{"summary": "道路硬化完成并验收", "amount_spent": "176500.50"}'
step "$ZHAO"  review_implementation "$approve"
step "$WANG"  draft_result_disclosure '{"content": "村东道路硬化完成，实际支出176500.50元。", "notice_days": 7}'
step "$ZHAO"  review_result_disclosure "$approve"
curl -sf -X POST "$API/demo/clock" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
     -d '{"advance_days": 8}' >/dev/null

curl -sf "$API/instances/$CASE" -H "Authorization: Bearer $ZHANG" | json '"status: " + d["status"]'
curl -sf "$API/instances/$CASE" -H "Authorization: Bearer $ZHANG" \
     | json '"board entries of this case: " + " | ".join(e["title"] for e in d["board"])'
curl -sf "$API/villages/demo-001/board/verify" | json '"verify: ok=%s entries=%s" % (d["ok"], d["entries"])'
