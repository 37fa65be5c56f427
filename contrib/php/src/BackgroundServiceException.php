<?php

declare(strict_types=1);

namespace BgService;

/**
 * A request that did not succeed.
 *
 * getCode() is the daemon's NNN (400 to 599) when the daemon answered
 * an error, with its text as getMessage(); it is 0 when the failure is
 * local: a bad ini, a bad service name or job id, data that cannot be
 * converted to or from the caller's charset.  ConnectionException, a
 * subclass, is a daemon that could not be reached or whose answer did
 * not come whole in time.
 */
class BackgroundServiceException extends \RuntimeException
{
}
