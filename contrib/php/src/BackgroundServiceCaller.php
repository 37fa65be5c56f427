<?php

declare(strict_types=1);

namespace BgService;

/**
 * Call the services of bgserviced with the static API of the original
 * BackgroundServiceCaller, over the daemon's framed form:
 *
 *     request  "!" verb " " arg " " length "\n" payload
 *     answer   "!" code " " length "\n" payload
 *
 * Every length is exact, so a request is never cut and never waits for
 * a quiet period, and any byte, NUL included, travels as it is.  One
 * connection per call.  An error answer throws a
 * BackgroundServiceException with the daemon's code and text.
 *
 * The ini, given to AssignIni() as text or as a file name, names the
 * daemon of each service, as bgservice(1)'s client configuration does:
 *
 *     [default]
 *     tcpurl = tcp://127.0.0.1:12341
 *     [mail]
 *     udpurl = udp://10.0.0.5:12341
 *     [queue]
 *     tcpurl = unix:/var/run/bgserviced.sock
 *
 * tcpurl is where a service's calls go, udpurl where its datagrams go;
 * what a section does not set comes from [default], udpurl falls back
 * to tcpurl, and without either the daemon is 127.0.0.1:12341.  A URL
 * is tcp://host:port, udp://host:port, unix:path or host:port.  The job
 * verbs use the section [queue], as the original did.  connect_timeout
 * (seconds, default 10) bounds the connect, timeout (seconds, default
 * 0: none) the whole answer.  Each subclass has an ini of its own.
 */
class BackgroundServiceCaller
{
    public const DEFAULT_URL = '127.0.0.1:12341';
    public const CONNECT_TIMEOUT = 10.0;
    private const NO_TIMEOUT = 31536000.0;
    private const KEYS = ['tcpurl', 'udpurl', 'connect_timeout', 'timeout'];

    /** @var array<string, array<string, array<string, string>>> */
    protected static $config = [];

    /**
     * Use INI, ini text or the name of an ini file, for this class.
     * Text is what contains "=" or a line end; anything else is a file.
     */
    public static function AssignIni(string $ini): void
    {
        $text = strpbrk($ini, "=\n") !== false ? $ini : @file_get_contents($ini);
        if ($text === false) {
            throw new BackgroundServiceException("cannot read the ini file $ini", 0);
        }
        error_clear_last();
        $parsed = @parse_ini_string($text, true, INI_SCANNER_RAW);
        if ($parsed === false) {
            $why = error_get_last()['message'] ?? 'syntax error';
            throw new BackgroundServiceException("bad ini: $why", 0);
        }
        foreach ($parsed as $section => $keys) {
            static::checkSection((string)$section, $keys);
        }
        static::$config[static::class] = $parsed;
    }

    /** Run SERVICE with DATA and wait for its output. */
    public static function TCPCall(string $service, ?string $data, $charset = false): string
    {
        $payload = static::toUtf8($data, $charset);
        $out = static::request($service, 'call', static::service($service), $payload);
        return static::fromUtf8($out, $charset);
    }

    /** Run SERVICE with DATA over UDP: no answer, and no error from the daemon. */
    public static function UDPCall(string $service, ?string $data, $charset = false): void
    {
        $datagram = static::service($service) . ':' . static::toUtf8($data, $charset);
        $fp = static::open($service, true);
        $n = @fwrite($fp, $datagram);
        fclose($fp);
        if ($n !== strlen($datagram)) {
            throw new ConnectionException("cannot send the datagram for $service", 0);
        }
    }

    /** Queue a job of SERVICE with DATA; returns its id as "id:" and 16 digits. */
    public static function TCPAddQueue(string $service, ?string $data, $charset = false): string
    {
        $payload = static::toUtf8($data, $charset);
        return 'id:' . static::request('queue', 'add', static::service($service), $payload);
    }

    /** The job's state: "0" queued, "1" running, "2" done. */
    public static function TCPCheckQueue(string $id): string
    {
        return static::request('queue', 'check', static::jobId($id));
    }

    /** Wait until the job is done and return its output. */
    public static function TCPGetQueue(string $id, $charset = false): string
    {
        return static::fromUtf8(static::request('queue', 'get', static::jobId($id)), $charset);
    }

    /**
     * The job's state, exit status and times, as listed in bgserviced(8):
     * ['id' => ..., 'service' => ..., 'state' => 'done', 'code' => '200', ...].
     */
    public static function TCPInfoQueue(string $id): array
    {
        $info = [];
        $text = static::request('queue', 'info', static::jobId($id));
        foreach (explode("\n", rtrim($text, "\n")) as $line) {
            $pair = explode(' ', $line, 2);
            $info[$pair[0]] = $pair[1] ?? '';
        }
        return $info;
    }

    /** Cancel a queued or running job (409 if it is done already). */
    public static function TCPCancelQueue(string $id): void
    {
        static::request('queue', 'cancel', static::jobId($id));
    }

    /** DATA converted from charset FROM to charset TO, with iconv. */
    public static function ConvertCharset(string $data, string $from, string $to): string
    {
        $out = @iconv($from, $to, $data);
        if ($out === false) {
            throw new BackgroundServiceException("cannot convert the data from $from to $to", 0);
        }
        return $out;
    }

    protected static function toUtf8(?string $data, $charset): string
    {
        if ($charset === false || $charset === null || $charset === '') {
            return $data ?? '';
        }
        return static::ConvertCharset($data ?? '', $charset, 'UTF-8');
    }

    protected static function fromUtf8(string $data, $charset): string
    {
        if ($charset === false || $charset === null || $charset === '') {
            return $data;
        }
        return static::ConvertCharset($data, 'UTF-8', $charset);
    }

    protected static function checkSection(string $name, $keys): void
    {
        if (!is_array($keys)) {
            throw new BackgroundServiceException("bad ini: '$name' is outside a section", 0);
        }
        foreach ($keys as $key => $value) {
            if (!in_array($key, self::KEYS, true)) {
                throw new BackgroundServiceException("bad ini: [$name]: unknown key '$key'", 0);
            }
            if (substr($key, -7) === 'timeout' && (!is_numeric($value) || $value < 0)) {
                throw new BackgroundServiceException("bad ini: [$name]: $key must be seconds", 0);
            }
        }
    }

    /** KEY of SECTION, else of [default], else null. */
    protected static function setting(string $section, string $key): ?string
    {
        $ini = static::$config[static::class] ?? [];
        return $ini[$section][$key] ?? $ini['default'][$key] ?? null;
    }

    /** NAME, if it is a service name: 1 to 64 of A-Z a-z 0-9 - _. */
    protected static function service(string $name): string
    {
        if (!preg_match('/^[A-Za-z0-9_-]{1,64}$/D', $name)) {
            throw new BackgroundServiceException("bad service name '$name'", 0);
        }
        return $name;
    }

    /** ID without its "id:"; whether such a job exists the daemon says (404). */
    protected static function jobId(string $id): string
    {
        if (strncmp($id, 'id:', 3) === 0) {
            $id = substr($id, 3);
        }
        if (!preg_match('/^[!-~]{1,64}$/D', $id)) {
            throw new BackgroundServiceException("bad job id '$id'", 0);
        }
        return $id;
    }

    /**
     * A stream connected to the daemon of SECTION, for datagrams if UDP,
     * with PHP's transport for its URL: tcp://, udp://, unix:// or udg://.
     */
    protected static function open(string $section, bool $udp)
    {
        $url = ($udp ? static::setting($section, 'udpurl') : null)
            ?? static::setting($section, 'tcpurl') ?? self::DEFAULT_URL;
        $addr = preg_replace('#^(tcp://|udp://|unix://|unix:)#', '', $url);
        if (($addr[0] ?? '') === '/') {
            $target = ($udp ? 'udg://' : 'unix://') . $addr;
        } else {
            $target = ($udp ? 'udp://' : 'tcp://') . $addr;
        }
        $wait = (float)(static::setting($section, 'connect_timeout') ?? self::CONNECT_TIMEOUT);
        $fp = @stream_socket_client($target, $errno, $errstr, $wait);
        if ($fp === false) {
            throw new ConnectionException("cannot connect to $url: $errstr", 0);
        }
        return $fp;
    }

    /**
     * Send one framed request to the daemon of SECTION; the payload of a
     * 200 answer, or a BackgroundServiceException for any other.
     */
    protected static function request(string $section, string $verb, string $arg, string $payload = ''): string
    {
        $limit = (float)(static::setting($section, 'timeout') ?? 0);
        $deadline = microtime(true) + ($limit > 0 ? $limit : self::NO_TIMEOUT);
        $fp = static::open($section, false);
        try {
            $head = "!$verb $arg " . strlen($payload) . "\n";
            $writeError = static::writeAll($fp, $head . $payload, $deadline);
            [$code, $text] = static::readAnswer($fp, $deadline, $writeError);
        } finally {
            fclose($fp);
        }
        if ($code !== 200) {
            throw new BackgroundServiceException($text, $code);
        }
        return $text;
    }

    /**
     * Write BUF whole.  Null, or why it could not: the daemon may have
     * answered and closed before reading it all (413), so the caller
     * reads the answer all the same.
     */
    protected static function writeAll($fp, string $buf, float $deadline): ?string
    {
        for ($done = 0; $done < strlen($buf); $done += $n) {
            static::setTimeout($fp, $deadline);
            error_clear_last();
            $n = @fwrite($fp, $done === 0 ? $buf : substr($buf, $done));
            if ($n === false || $n === 0) {
                return error_get_last()['message'] ?? 'cannot send the request';
            }
        }
        return null;
    }

    /**
     * Read one answer: [code, payload].  The daemon's master refuses a
     * caller (403, 429) with an original-form line "NNN: text" before
     * reading anything, even a framed caller: that is an answer too.
     */
    protected static function readAnswer($fp, float $deadline, ?string $writeError): array
    {
        static::setTimeout($fp, $deadline);
        $head = fgets($fp, 300);
        // Words after the length (retry=N on a 429) say more; the text
        // of the answer says the same for a person.
        if (is_string($head) && preg_match('/^!(\d{3}) (\d{1,10})( [a-z]+=[!-~]*)*\n\z/D', $head, $m)) {
            return [(int)$m[1], static::readExact($fp, (int)$m[2], $deadline)];
        }
        if (is_string($head) && preg_match('/^([45]\d\d): (.*)\n\z/D', $head, $m)) {
            return [(int)$m[1], $m[2]];
        }
        if ($head === false || $head === '') {
            throw static::failure($fp, $writeError ?? 'connection closed before the answer');
        }
        throw static::failure($fp, 'not a framed answer: ' . rtrim($head));
    }

    protected static function readExact($fp, int $length, float $deadline): string
    {
        $buf = '';
        while (strlen($buf) < $length) {
            static::setTimeout($fp, $deadline);
            $chunk = fread($fp, min($length - strlen($buf), 1048576));
            if ($chunk === false || $chunk === '') {
                throw static::failure($fp, 'connection closed after ' . strlen($buf) . " of $length bytes");
            }
            $buf .= $chunk;
        }
        return $buf;
    }

    protected static function setTimeout($fp, float $deadline): void
    {
        $left = max($deadline - microtime(true), 0.001);
        stream_set_timeout($fp, (int)$left, (int)(($left - (int)$left) * 1e6));
    }

    /** The ConnectionException to throw: a timeout if it was one, else WHY. */
    protected static function failure($fp, string $why): ConnectionException
    {
        if (stream_get_meta_data($fp)['timed_out']) {
            $why = 'timed out waiting for the answer';
        }
        return new ConnectionException($why, 0);
    }
}
