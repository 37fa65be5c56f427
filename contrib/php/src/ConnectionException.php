<?php

declare(strict_types=1);

namespace BgService;

/**
 * The daemon could not be reached, the answer did not arrive within the
 * timeout, or the connection ended before a whole framed answer: the
 * request may or may not have run.  getCode() is 0.
 */
class ConnectionException extends BackgroundServiceException
{
}
