"""The test helper's WeChat crypto, checked against the sample vectors in Tencent's documented
WXBizMsgCrypt sample and cross-checked once against wechatpy 1.8.18."""

from __future__ import annotations

import base64

from wechatpy.crypto import PrpCrypto as MpPrp
from wechatpy.enterprise.crypto import PrpCrypto as WorkPrp
from wechatpy.utils import WeChatSigner

from .conftest import Peer, sign

# Tencent's 企业微信 callback sample (WXBizMsgCrypt Sample.py): token, key, corpid and one
# captured URL verification and message, with the signatures WeChat computed for them.
SAMPLE_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
SAMPLE_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
SAMPLE_CORPID = "ww1436e0e65a779aee"
SAMPLE_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)
SAMPLE_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBh"
    "zTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWc"
    "oD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7"
    "wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPD"
    "GOCI8jmnKiypE+"
)


def test_helper_reproduces_tencents_sample_url_verification():
    assert sign(SAMPLE_TOKEN, "1476416373", "47744683", SAMPLE_ECHOSTR) == (
        "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
    )
    peer = Peer(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORPID)
    assert peer.decrypt(SAMPLE_ECHOSTR) == ("1288432023552776189", SAMPLE_CORPID)


def test_helper_reproduces_tencents_sample_message():
    assert sign(SAMPLE_TOKEN, "1476422779", "1597212914", SAMPLE_ENCRYPT) == (
        "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
    )
    msg, receive_id = Peer(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORPID).decrypt(SAMPLE_ENCRYPT)
    assert receive_id == SAMPLE_CORPID
    assert "<FromUserName>ChenJiaShun</FromUserName>" in msg
    assert "<Content>你好</Content>" in msg


def test_helper_round_trips_with_the_sample_ciphertext_layout():
    peer = Peer(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORPID)
    fixed = b"0123456789abcdef"
    encrypt = peer.encrypt("<xml>政策</xml>", random16=fixed)
    assert peer.decrypt(encrypt) == ("<xml>政策</xml>", SAMPLE_CORPID)
    # 16 + 4 + 17 bytes of XML + 18 of corpid = 55 → one PKCS#7 pad of 9 → 64 bytes, 4 blocks
    assert len(base64.b64decode(encrypt)) == 64


def test_helper_agrees_with_wechatpy_both_ways():
    peer = Peer(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORPID)
    mp_prp, work_prp = MpPrp(peer.key), WorkPrp(peer.key)
    text = "<xml><Content><![CDATA[鲁科贷]]></Content></xml>"
    assert mp_prp.decrypt(peer.encrypt(text), SAMPLE_CORPID) == text
    assert work_prp.decrypt(peer.encrypt(text), SAMPLE_CORPID) == text
    assert peer.decrypt(work_prp.encrypt(text, SAMPLE_CORPID).decode()) == (text, SAMPLE_CORPID)
    signer = WeChatSigner()
    signer.add_data(SAMPLE_TOKEN, "1476422779", "1597212914", SAMPLE_ENCRYPT)
    assert signer.signature == sign(SAMPLE_TOKEN, "1476422779", "1597212914", SAMPLE_ENCRYPT)
