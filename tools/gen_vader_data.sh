#!/bin/sh
# gen_vader_data.sh: regenerates the sentiment model's committed data files.
#
#   data/vader_lexicon.tsv  token<TAB>mean valence, from the npm package
#                           vader-sentiment 1.1.3 (its vader_lexicon.txt, the VADER lexicon
#                           by C.J. Hutto, MIT, as it stood in 2018), with the four entries by
#                           which the lexicon of vaderSentiment 3.3.2 differs applied (see below).
#   data/emoji_names.tsv    code point (hex)<TAB>English name, for every emoji of a single code
#                           point in Unicode's emoji-test.txt (Debian package unicode-data).
#
# Usage: tools/gen_vader_data.sh        (from anywhere; needs npm with registry access, awk,
#                                        sha1sum and /usr/share/unicode/emoji/emoji-test.txt)
# The output is deterministic; commit it. The npm tarball is fetched into a temporary directory
# and deleted.
set -eu
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- word lexicon ---------------------------------------------------------------------------
# Pinned by version and checksum so the data cannot change under us silently.
pkg=vader-sentiment-1.1.3.tgz
(cd "$tmp" && npm pack --silent vader-sentiment@1.1.3 >/dev/null)
echo "e3bd4e2636c2884bd48fa2df53b8a068575669f9  $tmp/$pkg" | sha1sum -c --quiet -
tar xzf "$tmp/$pkg" -C "$tmp" package/vader_lexicon.txt

# The reference reads each line as line.strip().split('\t')[0:2] and a later line overwrites an
# earlier one for the same token (lol, ok, lmao, ...): keep the last value of each token.
# Then the four 3.3.2 differences: heart, hearts and flawed were added, badass went -0.6 -> 1.4.
awk -F'\t' '
  { sub(/^[ \t\r\n\v\f]+/, ""); sub(/[ \t\r\n\v\f]+$/, "") }
  NF >= 2 { value[$1] = $2 }
  END {
    value["heart"] = "3.2"; value["hearts"] = "3.3"; value["flawed"] = "-2.1"; value["badass"] = "1.4"
    for (k in value) print k "\t" value[k]
  }' "$tmp/package/vader_lexicon.txt" | sort > "$root/data/vader_lexicon.tsv"

# --- emoji names ----------------------------------------------------------------------------
# The reference (vaderSentiment 3.3.2) built its emoji lexicon from emoji-test.txt of Emoji 11.0,
# and only its keys of one code point can ever match (it looks the text up one code point at a
# time). Debian ships a later emoji-test.txt, so: keep the emoji introduced up to E11.0 (later
# ones the reference leaves untouched), and restore the Emoji 11.0 name of the 55 that CLDR
# renamed since (current name given to detect a further rename).
cat > "$tmp/renames.tsv" <<'NAMES'
1F970	smiling face with 3 hearts	smiling face with hearts
1F917	hugging face	smiling face with open hands
1F635	dizzy face	face with crossed-out eyes
1F621	pouting face	enraged face
1F916	robot face	robot
1F63A	grinning cat face	grinning cat
1F638	grinning cat face with smiling eyes	grinning cat with smiling eyes
1F639	cat face with tears of joy	cat with tears of joy
1F63B	smiling cat face with heart-eyes	smiling cat with heart-eyes
1F63C	cat face with wry smile	cat with wry smile
1F63D	kissing cat face	kissing cat
1F640	weary cat face	weary cat
1F63F	crying cat face	crying cat
1F63E	pouting cat face	pouting cat
1F9D1	adult	person
1F9D3	older adult	older person
1F472	man with Chinese cap	person with skullcap
1F9D4	bearded person	person: beard
1F471	blond-haired person	person: blond hair
1F935	man in tuxedo	person in tuxedo
1F470	bride with veil	person with veil
1F574	man in suit levitating	person in suit levitating
1F46B	man and woman holding hands	woman and man holding hands
1F46C	two men holding hands	men holding hands
1F46D	two women holding hands	women holding hands
1F9B0	red-haired	red hair
1F9B1	curly-haired	curly hair
1F9B3	white-haired	white hair
2763	heavy heart exclamation	heart exclamation
1F4A4	zzz	ZZZ
1F392	school backpack	backpack
1F97F	woman’s flat shoe	flat shoe
1F43A	wolf face	wolf
1F98A	fox face	fox
1F981	lion face	lion
1F984	unicorn face	unicorn
1F439	hamster face	hamster
1F43B	bear face	bear
1F43C	panda face	panda
1F438	frog face	frog
1F9F1	bricks	brick
1F3AF	direct hit	bullseye
1F9E9	jigsaw	puzzle piece
1F4BB	laptop computer	laptop
1F52B	pistol	water pistol
2B55	heavy large circle	hollow red circle
2705	white heavy check mark	check mark button
2611	ballot box with check	check box with check
2714	heavy check mark	check mark
2716	heavy multiplication x	multiply
2795	heavy plus sign	plus
2796	heavy minus sign	minus
2797	heavy division sign	divide
2753	question mark	red question mark
2757	exclamation mark	red exclamation mark
NAMES

# emoji-test.txt lines: "1F600   ; fully-qualified   # 😀 E1.0 grinning face".
awk -F'\t' -v renames="$tmp/renames.tsv" '
  BEGIN {
    while ((getline line < renames) > 0) {
      split(line, f, "\t"); old[f[1]] = f[2]; now[f[1]] = f[3]
    }
  }
  /^#/ || !/;/ { next }
  {
    cps = $0; sub(/;.*/, "", cps); gsub(/^ +| +$/, "", cps)
    if (cps ~ / /) next                          # a sequence of several code points
    comment = $0; sub(/^[^#]*# /, "", comment)   # "😀 E1.0 grinning face"
    split(comment, w, " ")
    version = substr(w[2], 2) + 0
    name = comment; sub(/^[^ ]+ [^ ]+ /, "", name)
    if (version > 11.0) next
    if (cps in old) {
      if (name != now[cps]) { print "emoji " cps " is now named \"" name "\"" > "/dev/stderr"; bad = 1 }
      name = old[cps]; found++
    }
    print cps "\t" name
  }
  END { if (bad || found != 55) { print "emoji renames did not apply cleanly" > "/dev/stderr"; exit 1 } }
' /usr/share/unicode/emoji/emoji-test.txt > "$root/data/emoji_names.tsv"

echo "wrote data/vader_lexicon.tsv ($(wc -l < "$root/data/vader_lexicon.tsv") tokens)," \
     "data/emoji_names.tsv ($(wc -l < "$root/data/emoji_names.tsv") emoji)"
