<?php
/* The lab's echo page: who SimpleSAMLphp says is signed in (JSON), 401 when nobody. */
require_once '/usr/share/simplesamlphp/lib/_autoload.php';
$as = new \SimpleSAML\Auth\Simple('default-sp');
header('Content-Type: application/json');
if (!$as->isAuthenticated()) {
    http_response_code(401);
    echo json_encode(['user' => null]);
    exit;
}
// SimpleSAMLphp hands over an AttributeValue holding anything but text (an element, a comment) as a
// DOMNodeList: shown here as the text of its nodes, as an application reading it would.
$attrs = array_map(function ($values) {
    return array_map(function ($v) {
        if ($v instanceof DOMNodeList) {
            $text = '';
            foreach ($v as $node) {
                if ($node->nodeType !== XML_COMMENT_NODE) {
                    $text .= $node->textContent;
                }
            }
            return $text;
        }
        return $v;
    }, $values);
}, $as->getAttributes());
$nameId = $as->getAuthData('saml:sp:NameID');
echo json_encode([
    'email' => isset($attrs['Email']) ? implode(';', $attrs['Email']) : null,
    'name_id' => $nameId ? $nameId->getValue() : null,
    'idp' => $as->getAuthData('saml:sp:IdP'),
    'attributes' => $attrs,
]);
