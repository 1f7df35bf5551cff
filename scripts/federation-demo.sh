#!/usr/bin/env bash
# Two independent kaitiaki installations on one machine that share nothing but files: a lead unit
# (the sender) and a partner agency (the receiver). The lead unit analyses a simulated operation
# (benign, synthetic) and refers; the partner imports its package, works the case to an arrest,
# identifies a victim in a series, and sends back a signed outcome file and a signed series
# update; the lead unit verifies and applies both, and its figures show what came back.
#
#   bash scripts/federation-demo.sh [FOLDER]        (default: federation-demo)
#   PARTNER_DB=postgresql://127.0.0.1:5432/test bash scripts/federation-demo.sh   # partner on PostgreSQL
set -euo pipefail
out="$(realpath -m "${1:-federation-demo}")"
rm -rf "$out" && mkdir -p "$out"
k() { uv run --quiet kaitiaki "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

lead() { KAITIAKI_USER=lead.analyst KAITIAKI_KEYS="$out/lead/keys" k "$@" --db "sqlite:///$out/lead/kaitiaki.db"; }
partner() {
  KAITIAKI_USER=hsi.liaison KAITIAKI_KEYS="$out/partner/keys" k "$@" \
    --db "${PARTNER_DB:-sqlite:///$out/partner/kaitiaki.db}"
}
# Commands that take no store (keys) run with the same identity and keys folder.
lead_keys() { KAITIAKI_KEYS="$out/lead/keys" k "$@"; }
partner_keys() { KAITIAKI_KEYS="$out/partner/keys" k "$@"; }
mkdir -p "$out/lead" "$out/partner" "$out/exchange"

step "Each installation makes its key pair; they exchange public keys and read fingerprints by phone"
lead_keys keys generate
partner_keys keys generate
cp "$out/lead/keys/kaitiaki-ed25519.pem.pub" "$out/exchange/lead-unit.pub"
cp "$out/partner/keys/kaitiaki-ed25519.pem.pub" "$out/exchange/partner.pub"

step "Lead unit: a simulated operation, analysed, prioritised and referred"
k simulate operation --out "$out/lead/sim" --accounts 600 --flagged 60 --events 12000 --seed 11 >/dev/null
lead hashset import "$out/lead/sim/hashset.json" --name operation-set >/dev/null
lead operation analyse -r "$out/lead/sim/records.csv" --accounts "$out/lead/sim/accounts.csv" \
  --catalog "$out/lead/sim/catalog.csv" -o "$out/lead/analysis" >/dev/null
lead priority compute --workspace "$out/lead/analysis/workspace" --top 0 >/dev/null
lead refer --out "$out/lead/referrals" --analysis "$out/lead/analysis" | tail -1
ref="$(basename "$(ls -d "$out"/lead/referrals/KAI-US-* | head -1)")"
agency="$(uv run --quiet python -c 'import json,sys; print(json.load(open(sys.argv[1]))["agency"]["name"])' \
  "$out/lead/referrals/$ref/package.json")"
lead referral status "$ref" sent --note "sent to the US liaison by secure file transfer"
(cd "$out/lead/referrals" && zip -qr "$out/exchange/$ref.zip" "$ref")
echo "package $ref for $agency: $out/exchange/$ref.zip"

step "Partner: a package from a key it does not trust yet is refused (exit 3)"
set +e; partner referral import "$out/exchange/$ref.zip"; code=$?; set -e
echo "exit status $code"
partner keys trust add "NZ lead unit" "$out/exchange/lead-unit.pub" --note "fingerprint read by phone"

step "Partner: import the package, see the received case"
partner referral import "$out/exchange/$ref.zip"
partner referral import "$out/exchange/$ref.zip"   # the same package again changes nothing
partner case list

step "Partner: work the case (each step audited; details stay here)"
subject="$(uv run --quiet python -c 'import json,sys; print(json.load(open(sys.argv[1]))["subjects"][0]["subject_id"])' \
  "$out/lead/referrals/$ref/package.json")"
echo "correct horse battery staple" | partner users add hsi.investigator --role investigator --password-stdin >/dev/null
partner case assign "$ref" hsi.investigator
partner case step "$ref" legal_request --subject "$subject" --detail "ISP subpoena for the subscriber of the IP at 2026-01-02 03:04Z"
partner case step "$ref" subscriber_identified --subject "$subject" --detail "subscriber identified (name kept here)"
partner case step "$ref" search_warrant --subject "$subject"
partner case step "$ref" devices_seized --subject "$subject" --count 3
partner case step "$ref" arrest --subject "$subject" --count 1
partner case step "$ref" children_safeguarded --subject "$subject" --count 2
partner case note "$ref" "interview scheduled; never leaves this installation"
partner case show "$ref" | tail -20

step "Partner: identify a victim in a series and report back, signed"
partner series add "Series Kowhai" --description "benign demo series" >/dev/null
partner series victim add V-DEMO-0001 --series "Series Kowhai" --identified --country US --agency "$agency" >/dev/null
partner outcomes export --referral "$ref" -o "$out/exchange/$ref-outcomes.json"
partner series export --signed --agency "US:$agency" -o "$out/exchange/series-update.json"

step "Lead unit: trust the partner for its jurisdiction, verify and apply what came back"
lead keys trust add "US partner" "$out/exchange/partner.pub" --jurisdiction "US:$agency"
lead outcomes import "$out/exchange/$ref-outcomes.json"
lead outcomes import "$out/exchange/$ref-outcomes.json"   # again: nothing changes
lead series import "$out/exchange/series-update.json"
lead referral history "$ref"
lead stats
lead audit verify | tail -1
echo
echo "two installations in $out (lead/ and partner/); what crossed between them is in $out/exchange"
