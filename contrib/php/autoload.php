<?php

/*
 * For callers without composer: require this file, then use the classes
 * of BgService\ (composer's own autoloader does the same from
 * composer.json).
 */
spl_autoload_register(function (string $class): void {
    $prefix = 'BgService\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/',
        substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
