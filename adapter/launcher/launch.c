/*
 * The instance's entrypoint: starts the app at once, and the adapter (Node) beside it.
 *
 *   launch ADAPTER-COMMAND... -- APP-ARGS...
 *
 * Node takes tens of milliseconds to start before it can spawn anything; started from here, the app boots in
 * that time instead. The app's command is PILOTLIGHT_APP_ENTRYPOINT (a JSON array of strings) followed by
 * APP-ARGS, and its environment is ours without the PILOTLIGHT_ settings, as the adapter would give it.
 *
 * The adapter is told in PILOTLIGHT_LAUNCHED_APP_PID, and reads the app's stdout and stderr from fds 3 and 4
 * and how the app ended from fd 5: one line, "exit CODE", "signal NUMBER" or "error ERRNO-NAME" (not started).
 * Signals sent to this process go to the adapter, which drains and then stops the app. When the adapter exits,
 * the app is killed and this process exits with the adapter's code.
 *
 * When the app's command cannot be read, or is empty, the adapter runs alone and reports the problem itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile pid_t adapter_pid = 0;

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define FORWARDED_COUNT (sizeof(forwarded) / sizeof(forwarded[0]))

static void forward(int sig) {
  if (adapter_pid > 0) kill(adapter_pid, sig);
}

/* Appends one UTF-8 encoded code point. */
static char *put_utf8(char *out, unsigned long cp) {
  if (cp < 0x80) {
    *out++ = (char)cp;
  } else if (cp < 0x800) {
    *out++ = (char)(0xC0 | (cp >> 6));
    *out++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = (char)(0xE0 | (cp >> 12));
    *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *out++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *out++ = (char)(0xF0 | (cp >> 18));
    *out++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *out++ = (char)(0x80 | (cp & 0x3F));
  }
  return out;
}

static int hex4(const char *p, unsigned long *value) {
  *value = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return -1;
    *value = *value * 16 + (unsigned long)digit;
  }
  return 0;
}

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/*
 * Parses a JSON array of strings into out[] (at most max entries), decoding into buf (as large as the input).
 * Returns the count, or -1 when the text is not such an array. A lone surrogate or a NUL is refused, as the
 * app could not be given it as an argument either.
 */
static int parse_string_array(const char *text, char *buf, char **out, int max) {
  int count = 0;
  /* As the adapter reads it: exactly "" or "null" is no entrypoint; anything else must be an array. */
  if (*text == '\0' || strcmp(text, "null") == 0) return 0;
  const char *p = skip_space(text);
  if (*p++ != '[') return -1;
  p = skip_space(p);
  if (*p == ']') return *skip_space(p + 1) == '\0' ? 0 : -1;
  for (;;) {
    if (*p++ != '"' || count >= max) return -1;
    out[count++] = buf;
    while (*p != '"') {
      unsigned char c = (unsigned char)*p;
      if (c == '\0' || c < 0x20) return -1;
      if (c != '\\') {
        *buf++ = *p++;
        continue;
      }
      p++;
      switch (*p++) {
        case '"': *buf++ = '"'; break;
        case '\\': *buf++ = '\\'; break;
        case '/': *buf++ = '/'; break;
        case 'b': *buf++ = '\b'; break;
        case 'f': *buf++ = '\f'; break;
        case 'n': *buf++ = '\n'; break;
        case 'r': *buf++ = '\r'; break;
        case 't': *buf++ = '\t'; break;
        case 'u': {
          unsigned long cp, low;
          if (hex4(p, &cp) < 0) return -1;
          p += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &low) < 0 || low < 0xDC00 || low > 0xDFFF) return -1;
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
            return -1;
          }
          buf = put_utf8(buf, cp);
          break;
        }
        default: return -1;
      }
    }
    p++;
    *buf++ = '\0';
    p = skip_space(p);
    if (*p == ']') return *skip_space(p + 1) == '\0' ? count : -1;
    if (*p++ != ',') return -1;
    p = skip_space(p);
  }
}

/* Most bytes of environment taken on stdin. */
#define MAX_STDIN_ENV (1 << 20)

/* All of fd 0 up to its end, NUL-terminated; NULL when it cannot be read or is larger than MAX_STDIN_ENV. */
static char *read_stdin(size_t *size) {
  size_t cap = 4096;
  char *text = malloc(cap + 1);
  *size = 0;
  while (text) {
    if (*size == cap) {
      if (cap >= MAX_STDIN_ENV) break;
      cap *= 2;
      char *larger = realloc(text, cap + 1);
      if (!larger) break;
      text = larger;
    }
    ssize_t got = read(0, text + *size, cap - *size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    if (got == 0) {
      text[*size] = '\0';
      return text;
    }
    *size += (size_t)got;
  }
  free(text);
  return NULL;
}

/*
 * PILOTLIGHT_ENV_ON_STDIN=1: more of the environment (secrets) comes on stdin as a JSON array of NAME=VALUE
 * strings, so that the engine keeps no copy of it. It is read to its end before anything starts; then stdin is
 * /dev/null, and the setting is cleared so that the adapter does not look again. -1 when it is not complete.
 */
static int take_env_on_stdin(void) {
  const char *flag = getenv("PILOTLIGHT_ENV_ON_STDIN");
  if (!flag || strcmp(flag, "1") != 0) return 0;
  size_t size;
  char *text = read_stdin(&size);
  if (!text || size == 0 || strlen(text) != size) return -1;
  char *decoded = malloc(size + 1);
  char **entries = calloc(size + 1, sizeof(char *));
  if (!decoded || !entries) return -1;
  int count = parse_string_array(text, decoded, entries, (int)size + 1);
  if (count < 0) return -1;
  for (int i = 0; i < count; i++) {
    const char *equals = strchr(entries[i], '=');
    if (!equals || equals == entries[i] || strncmp(entries[i], "PILOTLIGHT_", 11) == 0) return -1;
    if (putenv(entries[i]) != 0) return -1;
  }
  unsetenv("PILOTLIGHT_ENV_ON_STDIN");
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null > 0) {
    dup2(null, 0);
    close(null);
  }
  return 0;
}

/* The environment without the adapter's own settings (PILOTLIGHT_*). */
static char **app_environment(void) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 1, sizeof(char *));
  if (!env) return NULL;
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(environ[i], "PILOTLIGHT_", 11) != 0) env[kept++] = environ[i];
  }
  return env;
}

static void write_line(int fd, const char *line) {
  size_t left = strlen(line);
  while (left > 0) {
    ssize_t written = write(fd, line, left);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    line += written;
    left -= (size_t)written;
  }
}

static int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * In a child about to exec: gives sources[i] the number targets[i], open across the exec. The sources are
 * first copied above every target, so that placing one never closes another still to be placed.
 */
static void place_fds(const int *sources, const int *targets, int count) {
  int high[3];
  for (int i = 0; i < count; i++) {
    high[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 10);
    if (high[i] < 0) _exit(127);
  }
  for (int i = 0; i < count; i++) {
    if (dup2(high[i], targets[i]) < 0) _exit(127);
  }
}

static void reset_signals(const sigset_t *mask) {
  for (size_t i = 0; i < FORWARDED_COUNT; i++) signal(forwarded[i], SIG_DFL);
  sigprocmask(SIG_SETMASK, mask, NULL);
}

static void exec_adapter(char **command) {
  execv(command[0], command);
  fprintf(stderr, "pilotlight-launch: cannot run the adapter %s: %s\n", command[0], strerror(errno));
  _exit(127);
}

/*
 * A child goes when the launcher does, however it goes (kill -9 included). In a container the init process
 * ends the rest; run directly on a host, the app and the adapter would otherwise be left behind.
 */
static void die_with_parent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(137);
}

int main(int argc, char **argv) {
  int separator = 1;
  while (separator < argc && strcmp(argv[separator], "--") != 0) separator++;
  if (separator == 1 || separator >= argc) {
    fprintf(stderr, "pilotlight-launch: usage: launch ADAPTER-COMMAND... -- [APP-ARGS...]\n");
    return 64;
  }
  if (take_env_on_stdin() < 0) {
    fprintf(stderr, "pilotlight-launch: PILOTLIGHT_ENV_ON_STDIN=1, but stdin is not a complete JSON array of NAME=VALUE strings\n");
    return 78;
  }
  int app_args = argc - separator - 1;
  /* The adapter's command line: its own, then the app's arguments, as it would be started without us. */
  char **adapter = calloc((size_t)argc, sizeof(char *));
  if (!adapter) return 71;
  int a = 0;
  for (int i = 1; i < separator; i++) adapter[a++] = argv[i];
  for (int i = separator + 1; i < argc; i++) adapter[a++] = argv[i];

  const char *entrypoint = getenv("PILOTLIGHT_APP_ENTRYPOINT");
  size_t entry_len = entrypoint ? strlen(entrypoint) : 0;
  char *decoded = malloc(entry_len + 1);
  char **app = calloc(entry_len + (size_t)app_args + 2, sizeof(char *));
  if (!decoded || !app) return 71;
  int entry_count = entrypoint ? parse_string_array(entrypoint, decoded, app, (int)entry_len + 1) : 0;
  if (entry_count < 0 || entry_count + app_args == 0) exec_adapter(adapter);
  for (int i = 0; i < app_args; i++) app[entry_count + i] = argv[separator + 1 + i];

  int out[2], err[2], status[2], exec_check[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(status, O_CLOEXEC) || pipe2(exec_check, O_CLOEXEC)) {
    exec_adapter(adapter);
  }
  char **app_env = app_environment();
  if (!app_env) exec_adapter(adapter);

  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &previous);

  pid_t launcher_pid = getpid();
  pid_t app_pid = fork();
  if (app_pid < 0) exec_adapter(adapter);
  if (app_pid == 0) {
    die_with_parent(launcher_pid);
    reset_signals(&previous);
    place_fds((int[]){out[1], err[1]}, (int[]){1, 2}, 2);
    environ = app_env;
    execvp(app[0], app);
    int failure = errno;
    ssize_t ignored = write(exec_check[1], &failure, sizeof(failure));
    (void)ignored;
    _exit(127);
  }

  char pid_text[32];
  snprintf(pid_text, sizeof(pid_text), "%d", (int)app_pid);
  setenv("PILOTLIGHT_LAUNCHED_APP_PID", pid_text, 1);
  pid_t started = fork();
  if (started < 0) {
    kill(app_pid, SIGKILL);
    return 71;
  }
  if (started == 0) {
    die_with_parent(launcher_pid);
    reset_signals(&previous);
    place_fds((int[]){out[0], err[0], status[0]}, (int[]){3, 4, 5}, 3);
    exec_adapter(adapter);
  }
  adapter_pid = started;
  close(out[0]);
  close(out[1]);
  close(err[0]);
  close(err[1]);
  close(status[0]);
  close(exec_check[1]);

  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = forward;
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded[i], &action, NULL);
  /* The adapter may close its end of the status pipe: a write then fails instead of ending this process. */
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_SETMASK, &previous, NULL);

  /* The app's exec closes the check pipe (close-on-exec): nothing read means it started. */
  int failure = 0;
  ssize_t got;
  do got = read(exec_check[0], &failure, sizeof(failure));
  while (got < 0 && errno == EINTR);
  close(exec_check[0]);
  char line[64];
  if (got == (ssize_t)sizeof(failure)) {
    const char *name = strerrorname_np(failure);
    snprintf(line, sizeof(line), "error %s\n", name ? name : "EUNKNOWN");
    write_line(status[1], line);
  }

  int app_running = 1;
  for (;;) {
    int wait_status;
    pid_t ended = waitpid(-1, &wait_status, 0);
    if (ended < 0) {
      if (errno == EINTR) continue;
      return 70;
    }
    if (ended == app_pid && app_running) {
      app_running = 0;
      if (got != (ssize_t)sizeof(failure)) {
        if (WIFSIGNALED(wait_status)) snprintf(line, sizeof(line), "signal %d\n", WTERMSIG(wait_status));
        else snprintf(line, sizeof(line), "exit %d\n", WEXITSTATUS(wait_status));
        write_line(status[1], line);
      }
      close(status[1]);
    } else if (ended == adapter_pid) {
      if (app_running) {
        kill(app_pid, SIGKILL);
        while (waitpid(app_pid, NULL, 0) < 0 && errno == EINTR) {
        }
      }
      return exit_code_of(wait_status);
    }
  }
}
