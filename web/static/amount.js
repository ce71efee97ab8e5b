// Amounts as people write them: echo what an amount field will be saved as, in 大写 and in figures,
// while the cadre types (the server parses with the same rule: engine/money.py).
(function () {
  "use strict";
  var PATTERN = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(元|万元|万)?$/;
  var DIGITS = "零壹贰叁肆伍陆柒捌玖", SMALL = ["", "拾", "佰", "仟"], BIG = ["", "万", "亿", "万亿"];

  function cents(text) {
    text = text.trim().replace(/，/g, ",").replace(/．/g, ".").replace(/[０-９]/g, function (d) {
      return String.fromCharCode(d.charCodeAt(0) - 0xFF10 + 48);
    });
    var m = PATTERN.exec(text);
    if (!m) return null;
    var whole = BigInt(m[1].replace(/,/g, "")), frac = BigInt(((m[2] || "") + "00").slice(0, 2));
    var total = whole * 100n + frac;
    if (m[3] === "万" || m[3] === "万元") total *= 10000n;
    return total;
  }
  function group(v) {
    var out = "", zero = false;
    for (var pos = 3; pos >= 0; pos--) {
      var d = Math.floor(v / Math.pow(10, pos)) % 10;
      if (d === 0) { zero = zero || out !== ""; continue; }
      if (zero) { out += "零"; zero = false; }
      out += DIGITS[d] + SMALL[pos];
    }
    return out;
  }
  function capital(total) {
    var yuan = total / 100n, c = Number(total % 100n), jiao = Math.floor(c / 10), fen = c % 10;
    var groups = [], rest = yuan, text = "";
    while (rest > 0n) { groups.push(Number(rest % 10000n)); rest = rest / 10000n; }
    for (var i = groups.length - 1; i >= 0; i--) {
      if (groups[i] === 0) continue;
      if (text && (groups[i] < 1000 || groups[i + 1] === 0)) text += "零";
      text += group(groups[i]) + BIG[i];
    }
    var head = (yuan === 0n && c) ? "" : (text || "零") + "元";
    if (!c) return head + "整";
    return head + (jiao ? DIGITS[jiao] + "角" : (head ? "零" : "")) + (fen ? DIGITS[fen] + "分" : "");
  }
  function figures(total) {
    var yuan = (total / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return yuan + "." + (total % 100n).toString().padStart(2, "0");
  }
  function update(input) {
    var out = document.getElementById(input.getAttribute("data-money"));
    if (!out) return;
    if (!input.value.trim()) { out.textContent = ""; out.className = "amount-echo"; return; }
    var total = cents(input.value);
    if (total === null) {
      out.textContent = "写法不对：请填写金额，如 250000、250,000、25万 或 2.5万元";
      out.className = "amount-echo bad";
    } else {
      out.textContent = "即 " + capital(total) + "（" + figures(total) + " 元）";
      out.className = "amount-echo";
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[data-money]");
    for (var i = 0; i < inputs.length; i++) {
      inputs[i].addEventListener("input", function (e) { update(e.target); });
      update(inputs[i]);
    }
  });
})();
