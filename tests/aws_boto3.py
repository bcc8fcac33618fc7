"""Drives the paycrypto AWS Payment Cryptography emulator with boto3.

Usage: python3 tests/aws_boto3.py http://127.0.0.1:PORT
Credentials and region come from the environment. Run by tests/aws.rs.
"""
import sys

import boto3
from botocore.exceptions import ClientError

url = sys.argv[1]
cp = boto3.client("payment-cryptography", endpoint_url=url)
dp = boto3.client("payment-cryptography-data", endpoint_url=url)


def key(usage, alg, exportable=True, **modes):
    attrs = {
        "KeyUsage": usage,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyAlgorithm": alg,
        "KeyModesOfUse": modes,
    }
    return cp.create_key(KeyAttributes=attrs, Exportable=exportable)["Key"]


def error_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response
    raise AssertionError("expected an error")


dek = key("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", Encrypt=True, Decrypt=True, Wrap=True, Unwrap=True)
assert dek["KeyState"] == "CREATE_COMPLETE" and len(dek["KeyCheckValue"]) == 6
cp.create_alias(AliasName="alias/boto/dek", KeyArn=dek["KeyArn"])
assert cp.get_alias(AliasName="alias/boto/dek")["Alias"]["KeyArn"] == dek["KeyArn"]
assert any(a["AliasName"] == "alias/boto/dek" for a in cp.list_aliases()["Aliases"])

ct = dp.encrypt_data(
    KeyIdentifier="alias/boto/dek",
    PlainText="00112233445566778899AABBCCDDEEFF",
    EncryptionAttributes={"Symmetric": {"Mode": "CBC", "InitializationVector": "00" * 16}},
)
assert ct["KeyArn"] == dek["KeyArn"] and ct["KeyCheckValue"] == dek["KeyCheckValue"]
pt = dp.decrypt_data(
    KeyIdentifier=dek["KeyArn"],
    CipherText=ct["CipherText"],
    DecryptionAttributes={"Symmetric": {"Mode": "CBC", "InitializationVector": "00" * 16}},
)
assert pt["PlainText"] == "00112233445566778899AABBCCDDEEFF", pt

cvk = key("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", Generate=True, Verify=True)
cvv2 = dp.generate_card_validation_data(
    KeyIdentifier=cvk["KeyArn"],
    PrimaryAccountNumber="4111111111111111",
    GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
)["ValidationData"]
dp.verify_card_validation_data(
    KeyIdentifier=cvk["KeyArn"],
    PrimaryAccountNumber="4111111111111111",
    VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
    ValidationData=cvv2,
)
wrong = "%03d" % ((int(cvv2) + 1) % 1000)
code, resp = error_code(
    dp.verify_card_validation_data,
    KeyIdentifier=cvk["KeyArn"],
    PrimaryAccountNumber="4111111111111111",
    VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
    ValidationData=wrong,
)
assert code == "VerificationFailedException" and resp["Reason"] == "INVALID_VALIDATION_DATA", resp

hm = key("TR31_M7_HMAC_KEY", "HMAC_SHA256", Generate=True, Verify=True)
# Visa dynamic CVV (E6 master key, DeriveKey) and Mastercard dynamic CVC3 (E4),
# with the ValidationDataLength and short hex counters the model allows.
e6 = key("TR31_E6_EMV_MKEY_OTHER", "TDES_2KEY", DeriveKey=True)
dcvv_attrs = {"DynamicCardVerificationValue": {
    "PanSequenceNumber": "00", "CardExpiryDate": "1310", "ServiceCode": "226",
    "ApplicationTransactionCounter": "32"}}
dcvv = dp.generate_card_validation_data(
    KeyIdentifier=e6["KeyArn"], PrimaryAccountNumber="1234567890123456",
    GenerationAttributes=dcvv_attrs, ValidationDataLength=4,
)
assert dcvv["KeyCheckValue"] == e6["KeyCheckValue"] and len(dcvv["ValidationData"]) == 4, dcvv
dp.verify_card_validation_data(
    KeyIdentifier=e6["KeyArn"], PrimaryAccountNumber="1234567890123456",
    VerificationAttributes=dcvv_attrs, ValidationData=dcvv["ValidationData"],
)
# The counter is a number: "32" and "0032" are the same ATC.
dcvv_attrs["DynamicCardVerificationValue"]["ApplicationTransactionCounter"] = "0032"
dp.verify_card_validation_data(
    KeyIdentifier=e6["KeyArn"], PrimaryAccountNumber="1234567890123456",
    VerificationAttributes=dcvv_attrs, ValidationData=dcvv["ValidationData"],
)
e4 = key("TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS", "TDES_2KEY", DeriveKey=True)
cvc3_attrs = {"DynamicCardVerificationCode": {
    "UnpredictableNumber": "00002710", "PanSequenceNumber": "00",
    "ApplicationTransactionCounter": "2710",
    "TrackData": "1234567890123456D12012061000110000000FFFFFFFFFFF"}}
cvc3 = dp.generate_card_validation_data(
    KeyIdentifier=e4["KeyArn"], PrimaryAccountNumber="1234567890123456",
    GenerationAttributes=cvc3_attrs, ValidationDataLength=5,
)["ValidationData"]
assert len(cvc3) == 5, cvc3
# The rightmost 3 digits verify on their own; a changed digit does not.
dp.verify_card_validation_data(
    KeyIdentifier=e4["KeyArn"], PrimaryAccountNumber="1234567890123456",
    VerificationAttributes=cvc3_attrs, ValidationData=cvc3[2:],
)
code, resp = error_code(
    dp.verify_card_validation_data,
    KeyIdentifier=e4["KeyArn"], PrimaryAccountNumber="1234567890123456",
    VerificationAttributes=cvc3_attrs, ValidationData=cvc3[:4] + str((int(cvc3[4]) + 1) % 10),
)
assert code == "VerificationFailedException" and resp["Reason"] == "INVALID_VALIDATION_DATA", resp
# A CVK is not a CVC3 master key; Amex CSC is not computed by the emulator.
code, _ = error_code(
    dp.generate_card_validation_data,
    KeyIdentifier=cvk["KeyArn"], PrimaryAccountNumber="1234567890123456",
    GenerationAttributes=cvc3_attrs,
)
assert code == "ValidationException", code
code, resp = error_code(
    dp.generate_card_validation_data,
    KeyIdentifier=cvk["KeyArn"], PrimaryAccountNumber="371234567890123",
    GenerationAttributes={"AmexCardSecurityCodeVersion1": {"CardExpiryDate": "2512"}},
    ValidationDataLength=4,
)
assert code == "ValidationException" and "emulator" in resp["Error"]["Message"], resp

mac = dp.generate_mac(KeyIdentifier=hm["KeyArn"], MessageData="48656C6C6F", GenerationAttributes={"Algorithm": "HMAC_SHA256"})["Mac"]
assert len(mac) == 64
dp.verify_mac(KeyIdentifier=hm["KeyArn"], MessageData="48656C6C6F", Mac=mac, VerificationAttributes={"Algorithm": "HMAC_SHA256"})

# Issuer PIN data: a random PIN with its Visa PVV, verified; a wrong PVV is
# VerificationFailedException INVALID_PIN. IBM 3624 random PIN and offset.
pvk = key("TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", Generate=True, Verify=True)
ibm = key("TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_2KEY", Generate=True, Verify=True)
pek = key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", Encrypt=True, Decrypt=True, Wrap=True, Unwrap=True)
gen = dp.generate_pin_data(
    GenerationKeyIdentifier=pvk["KeyArn"],
    EncryptionKeyIdentifier=pek["KeyArn"],
    PrimaryAccountNumber="171234567890123",
    PinBlockFormat="ISO_FORMAT_0",
    GenerationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1}},
)
assert gen["GenerationKeyCheckValue"] == pvk["KeyCheckValue"] and gen["EncryptionKeyArn"] == pek["KeyArn"], gen
pvv = gen["PinData"]["VerificationValue"]
assert len(pvv) == 4 and len(gen["EncryptedPinBlock"]) == 16, gen
ok = dp.verify_pin_data(
    VerificationKeyIdentifier=pvk["KeyArn"],
    EncryptionKeyIdentifier=pek["KeyArn"],
    PrimaryAccountNumber="171234567890123",
    PinBlockFormat="ISO_FORMAT_0",
    EncryptedPinBlock=gen["EncryptedPinBlock"],
    VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
)
assert ok["VerificationKeyCheckValue"] == pvk["KeyCheckValue"], ok
code, resp = error_code(
    dp.verify_pin_data,
    VerificationKeyIdentifier=pvk["KeyArn"],
    EncryptionKeyIdentifier=pek["KeyArn"],
    PrimaryAccountNumber="171234567890123",
    PinBlockFormat="ISO_FORMAT_0",
    EncryptedPinBlock=gen["EncryptedPinBlock"],
    VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": "%04d" % ((int(pvv) + 1) % 10000)}},
)
assert code == "VerificationFailedException" and resp["Reason"] == "INVALID_PIN", resp
ibm_attrs = {"DecimalizationTable": "0123456789012345", "PinValidationDataPadCharacter": "F", "PinValidationData": "1712345678"}
gen = dp.generate_pin_data(
    GenerationKeyIdentifier=ibm["KeyArn"],
    EncryptionKeyIdentifier=pek["KeyArn"],
    PinBlockFormat="ISO_FORMAT_1",
    PinDataLength=6,
    GenerationAttributes={"Ibm3624RandomPin": ibm_attrs},
)
offset = gen["PinData"]["PinOffset"]
assert len(offset) == 6, gen
dp.verify_pin_data(
    VerificationKeyIdentifier=ibm["KeyArn"],
    EncryptionKeyIdentifier=pek["KeyArn"],
    PinBlockFormat="ISO_FORMAT_1",
    EncryptedPinBlock=gen["EncryptedPinBlock"],
    VerificationAttributes={"Ibm3624Pin": dict(ibm_attrs, PinOffset=offset)},
)
# A PIN verification key cannot encrypt PIN blocks.
code, resp = error_code(
    dp.generate_pin_data,
    GenerationKeyIdentifier=ibm["KeyArn"],
    EncryptionKeyIdentifier=pvk["KeyArn"],
    PrimaryAccountNumber="171234567890123",
    PinBlockFormat="ISO_FORMAT_0",
    GenerationAttributes={"Ibm3624NaturalPin": ibm_attrs},
)
assert code == "ValidationException", resp

# A TR31_P0 key cannot DecryptData.
zpk = key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", Encrypt=True, Decrypt=True, Wrap=True, Unwrap=True)
code, _ = error_code(
    dp.decrypt_data,
    KeyIdentifier=zpk["KeyArn"],
    CipherText="0011223344556677",
    DecryptionAttributes={"Symmetric": {"Mode": "ECB"}},
)
assert code == "ValidationException", code
code, _ = error_code(cp.get_key, KeyIdentifier="alias/boto/none")
assert code == "ResourceNotFoundException", code

# TR-31 round trip: export under a KEK, import the block back, same KCV.
kek = key("TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", Encrypt=True, Decrypt=True, Wrap=True, Unwrap=True)
wrapped = cp.export_key(
    ExportKeyIdentifier=cvk["KeyArn"],
    KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"]}},
)["WrappedKey"]
assert wrapped["WrappedKeyMaterialFormat"] == "TR31_KEY_BLOCK" and wrapped["KeyMaterial"].startswith("D")
imported = cp.import_key(
    KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"], "WrappedKeyBlock": wrapped["KeyMaterial"]}}
)["Key"]
assert imported["KeyCheckValue"] == cvk["KeyCheckValue"] and imported["KeyOrigin"] == "EXTERNAL"
params = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048")
assert params["ImportToken"].startswith("import-token-")
keys = cp.list_keys(MaxResults=2)
assert len(keys["Keys"]) == 2 and "NextToken" in keys
cp.delete_key(KeyIdentifier=zpk["KeyArn"])
assert cp.get_key(KeyIdentifier=zpk["KeyArn"])["Key"]["KeyState"] == "DELETE_PENDING"
# Tags: on CreateKey, added and replaced by TagResource, removed by
# UntagResource (an absent key is no error), listed in pages.
tagged = cp.create_key(
    KeyAttributes={"KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
                   "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True, "Decrypt": True}},
    Exportable=False, Tags=[{"Key": "env", "Value": "test"}],
)["Key"]["KeyArn"]
cp.tag_resource(ResourceArn=tagged, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "payments"}])
cp.untag_resource(ResourceArn=tagged, TagKeys=["absent"])
tags = {t["Key"]: t["Value"] for t in cp.list_tags_for_resource(ResourceArn=tagged)["Tags"]}
assert tags == {"env": "prod", "team": "payments"}, tags
first = cp.list_tags_for_resource(ResourceArn=tagged, MaxResults=1)
assert len(first["Tags"]) == 1 and "NextToken" in first, first
rest = cp.list_tags_for_resource(ResourceArn=tagged, NextToken=first["NextToken"])
assert len(rest["Tags"]) == 1 and "NextToken" not in rest, rest
cp.untag_resource(ResourceArn=tagged, TagKeys=["env"])
assert cp.list_tags_for_resource(ResourceArn=tagged)["Tags"] == [{"Key": "team", "Value": "payments"}]

# Resource policies: stored and returned; public ones refused.
policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"payment-cryptography:EncryptData","Resource":"*"}]}'
assert cp.put_resource_policy(ResourceArn=tagged, Policy=policy)["Policy"] == policy
assert cp.get_resource_policy(ResourceArn=tagged)["Policy"] == policy
code, _ = error_code(cp.put_resource_policy, ResourceArn=tagged, Policy=policy.replace("arn:aws:iam::444455556666:root", "*"))
assert code == "PublicPolicyException", code
cp.delete_resource_policy(ResourceArn=tagged)
code, _ = error_code(cp.get_resource_policy, ResourceArn=tagged)
assert code == "ResourceNotFoundException", code

# Multi-Region replication: account defaults apply to keys created later.
assert cp.enable_default_key_replication_regions(ReplicationRegions=["eu-west-1", "us-west-2"])["EnabledReplicationRegions"] == ["eu-west-1", "us-west-2"]
rep = cp.create_key(
    KeyAttributes={"KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
                   "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True, "Decrypt": True}},
    Exportable=False,
)["Key"]
assert rep["MultiRegionKeyType"] == "PRIMARY" and rep["PrimaryRegion"] == "us-east-1", rep
assert rep["UsingDefaultReplicationRegions"] is True and set(rep["ReplicationStatus"]) == {"eu-west-1", "us-west-2"}, rep
cp.disable_default_key_replication_regions(ReplicationRegions=["eu-west-1", "us-west-2"])
assert cp.get_default_key_replication_regions()["EnabledReplicationRegions"] == []
after = cp.remove_key_replication_regions(KeyIdentifier=rep["KeyArn"], ReplicationRegions=["eu-west-1"])["Key"]
assert set(after["ReplicationStatus"]) == {"us-west-2"}, after
code, _ = error_code(cp.add_key_replication_regions, KeyIdentifier=rep["KeyArn"], ReplicationRegions=["us-east-1"])
assert code == "ValidationException", code

# MPA: while a team guards root-certificate imports, the emulator (which runs
# no approval sessions) refuses them by name.
team = "arn:aws:mpa:us-east-1:111122223333:approval-team/ops"
assert cp.associate_mpa_team(Action="IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE", MpaTeamArn=team)["MpaTeamAssociation"]["AssociationState"] == "ACTIVE"
code, _ = error_code(cp.associate_mpa_team, Action="IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE", MpaTeamArn=team)
assert code == "ConflictException", code
code, resp = error_code(
    cp.import_key,
    KeyMaterial={"RootCertificatePublicKey": {"KeyAttributes": {
        "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "PUBLIC_KEY",
        "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": {"Verify": True}}, "PublicKeyCertificate": "QUJD"}},
)
assert code == "ValidationException" and "Multi-Party Approval" in resp["Error"]["Message"], resp
cp.disassociate_mpa_team(Action="IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE")
code, _ = error_code(cp.get_mpa_team_association, Action="IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE")
assert code == "ResourceNotFoundException", code

print("boto3 ok")
