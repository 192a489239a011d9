<?php
/* Logout as an application starts it (SAML single logout when the IdP has an SLO endpoint). */
require_once '/usr/share/simplesamlphp/lib/_autoload.php';
$as = new \SimpleSAML\Auth\Simple('default-sp');
$as->logout('https://127.0.0.1:' . $_SERVER['SERVER_PORT'] . '/whoami.php');
