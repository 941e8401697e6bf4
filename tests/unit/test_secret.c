/*
 * test_secret.c - unit tests of the secret files' checks (policy/conf_secret.c):
 * the contacts key and the Redis password file load only when nobody else
 * can read or replace them, and each refusal says what is wrong and how to
 * fix it, in an exact "file:line: ..." line.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

/* The temporary directory of the tests. */
static char tmpdir[] = "/tmp/pm-test-secret.XXXXXX";

/* Where the config is, where the key is. */
static char conf_path[256], dir_path[256], key_path[256];

/* Write text into path (mode 0600 under the tests' umask). */
static void
write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* Write the config: user, group, then key (its line is 4) as kind. */
static void
write_conf(const char *user, const char *group, const char *key, int password)
{
    char text[1024];

    snprintf(text, sizeof(text), "user = \"%s\";\ngroup = \"%s\";\n%s\n  %s = \"%s\";\n};\n", user,
             group, password ? "redis: {" : "contacts: {",
             password ? "password_file" : "secret_file", key);
    write_text(conf_path, text);
}

/* Load the config; "" when it loads, else its error with tmpdir written as "$D". */
static const char *
load(char *err, size_t len)
{
    struct pm_conf *c = NULL;
    char raw[1024], *p;
    size_t n = strlen(tmpdir), used = 0;

    if (pm_conf_load(conf_path, &c, raw, sizeof(raw)) == 0) {
        assert_non_null(c);
        pm_conf_free(c);
        err[0] = '\0';
        return err;
    }
    assert_null(c);
    for (p = raw; *p && used + 3 < len; p++) {
        if (strncmp(p, tmpdir, n) == 0) {
            memcpy(err + used, "$D", 2);
            used += 2;
            p += n - 1;
        } else {
            err[used++] = *p;
        }
    }
    err[used] = '\0';
    return err;
}

/* One case: its name, the key's and its directory's modes, which key it is,
 * and the error (or ""); the config names user root and group mail. */
struct row {
    const char *name;
    mode_t key_mode, dir_mode;
    int password; /* the key is redis.password_file */
    const char *want;
};

/* Modes of files and directories: what loads and what is refused, and why. */
static void
test_modes(void **state)
{
    static const struct row rows[] = {
        {"owner only", 0600, 0700, 0, ""},
        {"key readable by its group", 0640, 0755, 0, ""},
        {"key read-only", 0400, 0711, 0, ""},
        {"directory anyone may write, sticky", 0600, 01777, 0, ""},
        {"directory its group may write, sticky", 0440, 03775, 0, ""},
        {"key readable by others", 0644, 0700, 0,
         "$D/pm.conf:4: contacts.secret_file: $D/d/key is readable by others (mode 0644): chown "
         "root:mail $D/d/key; chmod 0640 $D/d/key"},
        {"key writable by others", 0602, 0700, 0,
         "$D/pm.conf:4: contacts.secret_file: $D/d/key is writable by others (mode 0602): chown "
         "root:mail $D/d/key; chmod 0640 $D/d/key"},
        {"key readable and writable by others", 0666, 0700, 0,
         "$D/pm.conf:4: contacts.secret_file: $D/d/key is readable and writable by others (mode "
         "0666): chown root:mail $D/d/key; chmod 0640 $D/d/key"},
        {"key writable by its group", 0660, 0700, 0,
         "$D/pm.conf:4: contacts.secret_file: $D/d/key is writable by its group (mode 0660): "
         "chown root:mail $D/d/key; chmod 0640 $D/d/key"},
        {"password file writable by its group", 0620, 0700, 1,
         "$D/pm.conf:4: redis.password_file: $D/d/key is writable by its group (mode 0620): "
         "chown root:mail $D/d/key; chmod 0640 $D/d/key"},
        {"password file readable by others", 0604, 0700, 1,
         "$D/pm.conf:4: redis.password_file: $D/d/key is readable by others (mode 0604): chown "
         "root:mail $D/d/key; chmod 0640 $D/d/key"},
        {"directory writable by others", 0600, 0777, 0,
         "$D/pm.conf:4: contacts.secret_file: directory $D/d is writable by others (mode 0777): "
         "whoever can write there can replace $D/d/key; chmod go-w $D/d"},
        {"password file's directory writable by its group", 0600, 0770, 1,
         "$D/pm.conf:4: redis.password_file: directory $D/d is writable by its group (mode "
         "0770): whoever can write there can replace $D/d/key; chmod go-w $D/d"},
        {"directory its group may write, setgid", 0600, 02775, 0,
         "$D/pm.conf:4: contacts.secret_file: directory $D/d is writable by its group (mode "
         "2775): whoever can write there can replace $D/d/key; chmod go-w $D/d"},
    };
    char err[1024];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];

        write_text(key_path, r->password ? "meter s3cret\n" : "0123456789abcdef0123456789abcdef");
        assert_int_equal(chmod(key_path, r->key_mode), 0);
        assert_int_equal(chmod(dir_path, r->dir_mode), 0);
        write_conf("root", "mail", key_path, r->password);
        load(err, sizeof(err));
        if (strcmp(err, r->want) != 0)
            print_error("case \"%s\": got  %s\n        want %s\n", r->name, err, r->want);
        assert_string_equal(err, r->want);
        assert_null(strstr(err, "s3cret"));
        assert_int_equal(chmod(dir_path, 0700), 0);
        assert_int_equal(unlink(key_path), 0);
    }
}

/* The fix names the group of the configured user, or the user reading the
 * file when postmeter does not switch users. */
static void
test_fix(void **state)
{
    char err[1024], want[1024];
    struct passwd *pw = getpwuid(geteuid());

    (void)state;
    write_text(key_path, "0123456789abcdef0123456789abcdef");
    assert_int_equal(chmod(key_path, 0644), 0);
    write_conf("root", "", key_path, 0);
    assert_string_equal(load(err, sizeof(err)),
                        "$D/pm.conf:4: contacts.secret_file: $D/d/key is readable by others (mode "
                        "0644): chown root:root $D/d/key; chmod 0640 $D/d/key");
    write_conf("", "", key_path, 0);
    assert_non_null(pw);
    snprintf(want, sizeof(want),
             "$D/pm.conf:4: contacts.secret_file: $D/d/key is readable by others (mode 0644): "
             "chown %s $D/d/key; chmod 0600 $D/d/key",
             pw->pw_name);
    assert_string_equal(load(err, sizeof(err)), want);
    assert_int_equal(unlink(key_path), 0);
}

/* Not a regular file, a missing file, a symbolic link in an open directory. */
static void
test_kinds(void **state)
{
    char err[1024], link_path[300], open_dir[300];

    (void)state;
    write_conf("root", "mail", dir_path, 0);
    assert_string_equal(load(err, sizeof(err)),
                        "$D/pm.conf:4: contacts.secret_file: $D/d is not a regular file");
    write_conf("root", "mail", key_path, 1);
    assert_string_equal(load(err, sizeof(err)), "$D/pm.conf:4: redis.password_file: cannot open "
                                                "$D/d/key: No such file or directory");
    /* a safe key, named through a link that sits in a directory anyone may write */
    write_text(key_path, "0123456789abcdef0123456789abcdef");
    snprintf(open_dir, sizeof(open_dir), "%s/open", tmpdir);
    snprintf(link_path, sizeof(link_path), "%s/open/key", tmpdir);
    assert_int_equal(mkdir(open_dir, 0700), 0);
    assert_int_equal(chmod(open_dir, 0777), 0);
    assert_int_equal(symlink(key_path, link_path), 0);
    write_conf("root", "mail", link_path, 0);
    assert_string_equal(load(err, sizeof(err)),
                        "$D/pm.conf:4: contacts.secret_file: directory $D/open is writable by "
                        "others (mode 0777): whoever can write there can replace $D/open/key; "
                        "chmod go-w $D/open");
    /* the same link in a safe directory is fine: the target's directories are */
    assert_int_equal(chmod(open_dir, 0755), 0);
    assert_string_equal(load(err, sizeof(err)), "");
    assert_int_equal(unlink(link_path), 0);
    assert_int_equal(rmdir(open_dir), 0);
    assert_int_equal(unlink(key_path), 0);
}

/* A file or a directory of another user (root only: others cannot chown). */
static void
test_owner(void **state)
{
    char err[1024];
    const char *strict = getenv("POSTMETER_TEST_STRICT");

    (void)state;
    if (geteuid() != 0) {
        if (strict && strcmp(strict, "1") == 0)
            fail_msg("test_owner needs root (POSTMETER_TEST_STRICT=1)");
        skip();
    }
    write_text(key_path, "0123456789abcdef0123456789abcdef");
    assert_int_equal(chown(key_path, 65534, 65534), 0);
    write_conf("root", "mail", key_path, 0);
    assert_string_equal(load(err, sizeof(err)),
                        "$D/pm.conf:4: contacts.secret_file: $D/d/key belongs to user nobody, who "
                        "may change it: chown root:mail $D/d/key; chmod 0640 $D/d/key");
    /* owned by the user postmeter runs as: fine */
    write_conf("nobody", "mail", key_path, 0);
    assert_string_equal(load(err, sizeof(err)), "");
    assert_int_equal(chown(key_path, 0, 0), 0);
    assert_int_equal(chown(dir_path, 65534, 65534), 0);
    write_conf("root", "mail", key_path, 0);
    assert_string_equal(load(err, sizeof(err)),
                        "$D/pm.conf:4: contacts.secret_file: directory $D/d belongs to user "
                        "nobody, who can replace $D/d/key; keep it in a directory of root's, such "
                        "as /etc/postmeter");
    assert_int_equal(chown(dir_path, 0, 0), 0);
    assert_int_equal(unlink(key_path), 0);
}

/* Make the temporary directory and its subdirectory d. */
static int
group_setup(void **state)
{
    (void)state;
    umask(077);
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(conf_path, sizeof(conf_path), "%s/pm.conf", tmpdir);
    snprintf(dir_path, sizeof(dir_path), "%s/d", tmpdir);
    snprintf(key_path, sizeof(key_path), "%s/d/key", tmpdir);
    return mkdir(dir_path, 0700);
}

/* Remove what the tests left. */
static int
group_teardown(void **state)
{
    (void)state;
    unlink(key_path);
    unlink(conf_path);
    rmdir(dir_path);
    return rmdir(tmpdir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_fix),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_owner),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
