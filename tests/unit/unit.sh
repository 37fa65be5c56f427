#!/bin/sh
# build/unit: runs the unit test programs build/unit.d/test_*, each linked
# with only the modules it tests (see UNIT_OBJS_* in the Makefile).
#
#   unit            run every test
#   unit -l         list them
#   unit NAME ...   run those
#
# Each program is tests/unit/unit.c's runner; the last line sums them up,
# "N passed, M failed", and the status is 0 when all passed (and one did).
dir=$(dirname "$0")/unit.d
want=" $* "

if [ "$1" = -l ]; then
	for t in "$dir"/test_*; do
		"$t" -l || exit 1
	done
	exit 0
fi

pass=0
fail=0
found=" "
for t in "$dir"/test_*; do
	if [ ! -x "$t" ]; then
		echo "not ok - $t is not an executable: its build failed"
		fail=$((fail + 1))
		continue
	fi
	names=$("$t" -l) || exit 1
	mine=
	if [ "$want" != "  " ]; then
		for n in $names; do
			case $want in
			*" $n "*) mine="$mine $n" found="$found$n " ;;
			esac
		done
		[ -n "$mine" ] || continue
	fi
	# shellcheck disable=SC2086 # test names are C identifiers
	out=$("$t" $mine)
	printf '%s\n' "$out" | sed '$d'
	last=$(printf '%s\n' "$out" | tail -n 1)
	case $last in
	*" passed, "*" failed")
		set -- $last
		pass=$((pass + $1))
		fail=$((fail + $3))
		;;
	*)
		printf '%s\n' "$last"
		echo "not ok - $t ended without a summary"
		fail=$((fail + 1))
		;;
	esac
done
for n in $want; do
	case $found in
	*" $n "*) ;;
	*)
		echo "not ok - $n: no such test"
		fail=$((fail + 1))
		;;
	esac
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
