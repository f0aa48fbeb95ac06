"""Tests of tools/checksrc: each rule finds what it should, and nothing in
comments, strings or member names (run by ./dev test, suite "checksrc")."""

import importlib.machinery
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "checksrc")

_loader = importlib.machinery.SourceFileLoader("checksrc", TOOL)
_spec = importlib.util.spec_from_loader("checksrc", _loader)
checksrc = importlib.util.module_from_spec(_spec)
_loader.exec_module(checksrc)

HEADER = "/* x.c - a sample. */\n"


def check(body, path="x.c"):
    return checksrc.check_source(path, HEADER + body)


def test_banned_calls_are_found_with_their_line_and_replacement():
    out = check("void f(char *d, const char *s)\n{\n"
                "  strcpy(d, s);\n  sprintf (d, \"%d\", 1);\n"
                "  int n = atoi(s);\n  gets(d);\n}\n")
    assert out == [
        "x.c:4: banned call strcpy (use snprintf or memcpy with a length)",
        "x.c:5: banned call sprintf (use snprintf)",
        "x.c:6: banned call atoi (use parse_int from common/parse.h)",
        "x.c:7: banned call gets (use fgets)",
    ]


def test_names_in_comments_strings_and_members_are_not_calls():
    out = check("/* strcpy(a, b) would overflow */\n"
                "// atoi(s) cannot fail\n"
                "const char *m = \"use sprintf(x) \\\" strcat(y)\";\n"
                "char q = '\"'; int z = o.atoi(s) + p->strcat(t);\n"
                "int snprintf_ok = snprintf(b, 4, \"%s\", s) + my_atoi(s);\n")
    assert out == []


def test_a_multiline_comment_keeps_line_numbers():
    out = check("/* one\n two\n three */\nstrcat(a, b);\n")
    assert out == ["x.c:5: banned call strcat (use snprintf or memcpy with a length)"]


def test_strto_with_a_null_end_pointer_is_unchecked():
    out = check("long a = strtoll(PQgetvalue(res, 0, 1), NULL, 10);\n"
                "double b = strtod(s, 0);\n"
                "long c = strtol(s,\n    NULL, 8);\n")
    assert [f.split(" with")[0] for f in out] == [
        "x.c:2: unchecked strtoll", "x.c:3: unchecked strtod",
        "x.c:4: unchecked strtol"]


def test_strto_with_an_end_pointer_is_left_to_the_reader():
    assert check("errno = 0;\nv = strtol(optarg, &end, 8);\n"
                 "if(errno || *end) return 2;\n") == []


def test_allow_comment_names_the_function_on_that_line():
    assert check("n = atoi(s);  /* checksrc: allow atoi */\n") == []
    assert check("n = atoi(s);  /* checksrc: allow */\n") != []
    assert check("n = atoi(s);  /* checksrc: allow strcpy */\n") != []
    assert check("/* checksrc: allow atoi */\nn = atoi(s);\n") != []


def test_a_file_without_a_header_comment_is_a_finding():
    assert checksrc.check_source("y.h", "#ifndef Y_H\n#define Y_H\n#endif\n") == [
        "y.h:1: no header comment (say what the file is for)"]


def test_command_line_exit_status_and_output(tmp_path):
    good = tmp_path / "good.c"
    good.write_text(HEADER + "int f(void) { return 0; }\n")
    bad = tmp_path / "bad.c"
    bad.write_text(HEADER + "int f(const char *s) { return atoi(s); }\n")
    run = lambda *a: subprocess.run([sys.executable, TOOL, *map(str, a)],
                                    capture_output=True, text=True)
    r = run(good)
    assert (r.returncode, r.stdout) == (0, "")
    r = run(tmp_path)
    assert r.returncode == 1
    assert r.stdout == f"{bad}:2: banned call atoi (use parse_int from common/parse.h)\n"
    assert run(tmp_path / "missing.c").returncode == 2

