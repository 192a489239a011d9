<?php
/* SP-initiated login as an application starts it: requireAuth, back to the echo page. */
require_once '/usr/share/simplesamlphp/lib/_autoload.php';
$as = new \SimpleSAML\Auth\Simple('default-sp');
$as->requireAuth(['ReturnTo' => 'https://127.0.0.1:' . $_SERVER['SERVER_PORT'] . '/whoami.php']);
header('Location: /whoami.php');
