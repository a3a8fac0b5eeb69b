//! NIST SP 800-17 (Modes of Operation Validation System, MOVS), Appendix B: the DES known-answer
//! tests, all four tables in full, run through this module's DES. Each row is also run through the `des`
//! crate, an independent implementation, so a typing error in a table fails as loudly as a bug.

use cbc::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

use super::Des;

/// Table 1, variable plaintext: key `01 01 01 01 01 01 01 01` (a weak key: parity bits only),
/// plaintext with one bit set -> ciphertext.
const VARIABLE_PLAINTEXT: [(u64, u64); 64] = [
    (0x8000_0000_0000_0000, 0x95F8_A5E5_DD31_D900),
    (0x4000_0000_0000_0000, 0xDD7F_121C_A501_5619),
    (0x2000_0000_0000_0000, 0x2E86_5310_4F38_34EA),
    (0x1000_0000_0000_0000, 0x4BD3_88FF_6CD8_1D4F),
    (0x0800_0000_0000_0000, 0x20B9_E767_B2FB_1456),
    (0x0400_0000_0000_0000, 0x5557_9380_D771_38EF),
    (0x0200_0000_0000_0000, 0x6CC5_DEFA_AF04_512F),
    (0x0100_0000_0000_0000, 0x0D9F_279B_A5D8_7260),
    (0x0080_0000_0000_0000, 0xD903_1B02_71BD_5A0A),
    (0x0040_0000_0000_0000, 0x4242_50B3_7C3D_D951),
    (0x0020_0000_0000_0000, 0xB806_1B7E_CD9A_21E5),
    (0x0010_0000_0000_0000, 0xF15D_0F28_6B65_BD28),
    (0x0008_0000_0000_0000, 0xADD0_CC8D_6E5D_EBA1),
    (0x0004_0000_0000_0000, 0xE6D5_F827_52AD_63D1),
    (0x0002_0000_0000_0000, 0xECBF_E3BD_3F59_1A5E),
    (0x0001_0000_0000_0000, 0xF356_8343_79D1_65CD),
    (0x0000_8000_0000_0000, 0x2B9F_982F_2003_7FA9),
    (0x0000_4000_0000_0000, 0x889D_E068_A16F_0BE6),
    (0x0000_2000_0000_0000, 0xE19E_275D_846A_1298),
    (0x0000_1000_0000_0000, 0x329A_8ED5_23D7_1AEC),
    (0x0000_0800_0000_0000, 0xE7FC_E225_57D2_3C97),
    (0x0000_0400_0000_0000, 0x12A9_F581_7FF2_D65D),
    (0x0000_0200_0000_0000, 0xA484_C3AD_38DC_9C19),
    (0x0000_0100_0000_0000, 0xFBE0_0A8A_1EF8_AD72),
    (0x0000_0080_0000_0000, 0x750D_0794_0752_1363),
    (0x0000_0040_0000_0000, 0x64FE_ED9C_724C_2FAF),
    (0x0000_0020_0000_0000, 0xF02B_263B_328E_2B60),
    (0x0000_0010_0000_0000, 0x9D64_555A_9A10_B852),
    (0x0000_0008_0000_0000, 0xD106_FF0B_ED52_55D7),
    (0x0000_0004_0000_0000, 0xE165_2C6B_138C_64A5),
    (0x0000_0002_0000_0000, 0xE428_5811_86EC_8F46),
    (0x0000_0001_0000_0000, 0xAEB5_F5ED_E22D_1A36),
    (0x0000_0000_8000_0000, 0xE943_D756_8AEC_0C5C),
    (0x0000_0000_4000_0000, 0xDF98_C827_6F54_B04B),
    (0x0000_0000_2000_0000, 0xB160_E468_0F6C_696F),
    (0x0000_0000_1000_0000, 0xFA07_52B0_7D9C_4AB8),
    (0x0000_0000_0800_0000, 0xCA3A_2B03_6DBC_8502),
    (0x0000_0000_0400_0000, 0x5E09_0551_7BB5_9BCF),
    (0x0000_0000_0200_0000, 0x814E_EB3B_91D9_0726),
    (0x0000_0000_0100_0000, 0x4D49_DB15_3291_9C9F),
    (0x0000_0000_0080_0000, 0x25EB_5FC3_F8CF_0621),
    (0x0000_0000_0040_0000, 0xAB6A_20C0_620D_1C6F),
    (0x0000_0000_0020_0000, 0x79E9_0DBC_98F9_2CCA),
    (0x0000_0000_0010_0000, 0x866E_CEDD_8072_BB0E),
    (0x0000_0000_0008_0000, 0x8B54_536F_2F3E_64A8),
    (0x0000_0000_0004_0000, 0xEA51_D397_5595_B86B),
    (0x0000_0000_0002_0000, 0xCAFF_C6AC_4542_DE31),
    (0x0000_0000_0001_0000, 0x8DD4_5A2D_DF90_796C),
    (0x0000_0000_0000_8000, 0x1029_D55E_880E_C2D0),
    (0x0000_0000_0000_4000, 0x5D86_CB23_639D_BEA9),
    (0x0000_0000_0000_2000, 0x1D1C_A853_AE7C_0C5F),
    (0x0000_0000_0000_1000, 0xCE33_2329_248F_3228),
    (0x0000_0000_0000_0800, 0x8405_D1AB_E24F_B942),
    (0x0000_0000_0000_0400, 0xE643_D780_90CA_4207),
    (0x0000_0000_0000_0200, 0x4822_1B99_3774_8A23),
    (0x0000_0000_0000_0100, 0xDD7C_0BBD_61FA_FD54),
    (0x0000_0000_0000_0080, 0x2FBC_291A_570D_B5C4),
    (0x0000_0000_0000_0040, 0xE07C_30D7_E4E2_6E12),
    (0x0000_0000_0000_0020, 0x0953_E225_8E8E_90A1),
    (0x0000_0000_0000_0010, 0x5B71_1BC4_CEEB_F2EE),
    (0x0000_0000_0000_0008, 0xCC08_3F1E_6D9E_85F6),
    (0x0000_0000_0000_0004, 0xD2FD_8867_D50D_2DFE),
    (0x0000_0000_0000_0002, 0x06E7_EA22_CE92_708F),
    (0x0000_0000_0000_0001, 0x166B_40B4_4ABA_4BD6),
];

/// Table 2, variable key: plaintext 0, key with one key bit set (and odd parity) ->
/// ciphertext.
const VARIABLE_KEY: [(u64, u64); 56] = [
    (0x8001_0101_0101_0101, 0x95A8_D728_13DA_A94D),
    (0x4001_0101_0101_0101, 0x0EEC_1487_DD8C_26D5),
    (0x2001_0101_0101_0101, 0x7AD1_6FFB_79C4_5926),
    (0x1001_0101_0101_0101, 0xD374_6294_CA6A_6CF3),
    (0x0801_0101_0101_0101, 0x809F_5F87_3C1F_D761),
    (0x0401_0101_0101_0101, 0xC02F_AFFE_C989_D1FC),
    (0x0201_0101_0101_0101, 0x4615_AA1D_33E7_2F10),
    (0x0180_0101_0101_0101, 0x2055_1233_50C0_0858),
    (0x0140_0101_0101_0101, 0xDF3B_99D6_5773_97C8),
    (0x0120_0101_0101_0101, 0x31FE_1736_9B52_88C9),
    (0x0110_0101_0101_0101, 0xDFDD_3CC6_4DAE_1642),
    (0x0108_0101_0101_0101, 0x178C_83CE_2B39_9D94),
    (0x0104_0101_0101_0101, 0x50F6_3632_4A9B_7F80),
    (0x0102_0101_0101_0101, 0xA846_8EE3_BC18_F06D),
    (0x0101_8001_0101_0101, 0xA2DC_9E92_FD3C_DE92),
    (0x0101_4001_0101_0101, 0xCAC0_9F79_7D03_1287),
    (0x0101_2001_0101_0101, 0x90BA_680B_22AE_B525),
    (0x0101_1001_0101_0101, 0xCE7A_24F3_50E2_80B6),
    (0x0101_0801_0101_0101, 0x882B_FF0A_A01A_0B87),
    (0x0101_0401_0101_0101, 0x2561_0288_9245_11C2),
    (0x0101_0201_0101_0101, 0xC715_16C2_9C75_D170),
    (0x0101_0180_0101_0101, 0x5199_C29A_52C9_F059),
    (0x0101_0140_0101_0101, 0xC22F_0A29_4A71_F29F),
    (0x0101_0120_0101_0101, 0xEE37_1483_714C_02EA),
    (0x0101_0110_0101_0101, 0xA81F_BD44_8F9E_522F),
    (0x0101_0108_0101_0101, 0x4F64_4C92_E192_DFED),
    (0x0101_0104_0101_0101, 0x1AFA_9A66_A6DF_92AE),
    (0x0101_0102_0101_0101, 0xB3C1_CC71_5CB8_79D8),
    (0x0101_0101_8001_0101, 0x19D0_32E6_4AB0_BD8B),
    (0x0101_0101_4001_0101, 0x3CFA_A7A7_DC87_20DC),
    (0x0101_0101_2001_0101, 0xB726_5F7F_447A_C6F3),
    (0x0101_0101_1001_0101, 0x9DB7_3B3C_0D16_3F54),
    (0x0101_0101_0801_0101, 0x8181_B65B_ABF4_A975),
    (0x0101_0101_0401_0101, 0x93C9_B640_42EA_A240),
    (0x0101_0101_0201_0101, 0x5570_5308_2970_5592),
    (0x0101_0101_0180_0101, 0x8638_809E_8787_87A0),
    (0x0101_0101_0140_0101, 0x41B9_A79A_F79A_C208),
    (0x0101_0101_0120_0101, 0x7A9B_E42F_2009_A892),
    (0x0101_0101_0110_0101, 0x2903_8D56_BA6D_2745),
    (0x0101_0101_0108_0101, 0x5495_C6AB_F1E5_DF51),
    (0x0101_0101_0104_0101, 0xAE13_DBD5_6148_8933),
    (0x0101_0101_0102_0101, 0x024D_1FFA_8904_E389),
    (0x0101_0101_0101_8001, 0xD139_9712_F99B_F02E),
    (0x0101_0101_0101_4001, 0x14C1_D7C1_CFFE_C79E),
    (0x0101_0101_0101_2001, 0x1DE5_279D_AE3B_ED6F),
    (0x0101_0101_0101_1001, 0xE941_A33F_8550_1303),
    (0x0101_0101_0101_0801, 0xDA99_DBBC_9A03_F379),
    (0x0101_0101_0101_0401, 0xB7FC_92F9_1D8E_92E9),
    (0x0101_0101_0101_0201, 0xAE8E_5CAA_3CA0_4E85),
    (0x0101_0101_0101_0180, 0x9CC6_2DF4_3B6E_ED74),
    (0x0101_0101_0101_0140, 0xD863_DBB5_C59A_91A0),
    (0x0101_0101_0101_0120, 0xA1AB_2190_545B_91D7),
    (0x0101_0101_0101_0110, 0x0875_041E_64C5_70F7),
    (0x0101_0101_0101_0108, 0x5A59_4528_BEBE_F1CC),
    (0x0101_0101_0101_0104, 0xFCDB_3291_DE21_F0C0),
    (0x0101_0101_0101_0102, 0x869E_FD7F_9F26_5A09),
];

/// Table 3, permutation operation: plaintext 0, keys chosen to exercise every bit position
/// of the permutations -> ciphertext.
const PERMUTATION_OPERATION: [(u64, u64); 32] = [
    (0x1046_9134_8998_0131, 0x88D5_5E54_F54C_97B4),
    (0x1007_1034_8998_8020, 0x0C0C_C00C_83EA_48FD),
    (0x1007_1034_C898_0120, 0x83BC_8EF3_A657_0183),
    (0x1046_1034_8998_8020, 0xDF72_5DCA_D94E_A2E9),
    (0x1086_9115_1919_0101, 0xE652_B53B_550B_E8B0),
    (0x1086_9115_1958_0101, 0xAF52_7120_C485_CBB0),
    (0x5107_B015_1958_0101, 0x0F04_CE39_3DB9_26D5),
    (0x1007_B015_1919_0101, 0xC9F0_0FFC_7407_9067),
    (0x3107_9154_9808_0101, 0x7CFD_82A5_9325_2B4E),
    (0x3107_9194_9808_0101, 0xCB49_A2F9_E913_63E3),
    (0x1007_9115_B908_0140, 0x00B5_88BE_70D2_3F56),
    (0x3107_9115_9809_0140, 0x406A_9A6A_B433_99AE),
    (0x1007_D015_8998_0101, 0x6CB7_7361_1DCA_9ADA),
    (0x9107_9115_8998_0101, 0x67FD_21C1_7DBB_5D70),
    (0x9107_D015_8919_0101, 0x9592_CB41_1043_0787),
    (0x1007_D015_9898_0120, 0xA6B7_FF68_A318_DDD3),
    (0x1007_9404_9819_0101, 0x4D10_2196_C914_CA16),
    (0x0107_9104_9119_0401, 0x2DFA_9F45_7359_4965),
    (0x0107_9104_9119_0101, 0xB466_0481_6C0E_0774),
    (0x0107_9404_9119_0401, 0x6E7E_6221_A4F3_4E87),
    (0x1907_9210_981A_0101, 0xAA85_E746_4323_3199),
    (0x1007_9119_9819_0801, 0x2E5A_19DB_4D19_62D6),
    (0x1007_9119_981A_0801, 0x23A8_66A8_09D3_0894),
    (0x1007_9210_9819_0101, 0xD812_D961_F017_D320),
    (0x1007_9115_9819_010B, 0x0556_0581_6E58_608F),
    (0x1004_8015_9819_0101, 0xABD8_8E8B_1B77_16F1),
    (0x1004_8015_9819_0102, 0x537A_C95B_E69D_A1E1),
    (0x1004_8015_9819_0108, 0xAED0_F6AE_3C25_CDD8),
    (0x1002_9115_9810_0104, 0xB3E3_5A5E_E53E_7B8D),
    (0x1002_9115_9819_0104, 0x61C7_9C71_921A_2EF8),
    (0x1002_9115_9810_0201, 0xE2F5_728F_0995_013C),
    (0x1002_9116_9810_0101, 0x1AEA_C39A_61F0_A464),
];

/// Table 4, substitution table: (key, plaintext, ciphertext) exercising every S-box entry.
const SUBSTITUTION_TABLE: [(u64, u64, u64); 19] = [
    (
        0x7CA1_1045_4A1A_6E57,
        0x01A1_D6D0_3977_6742,
        0x690F_5B0D_9A26_939B,
    ),
    (
        0x0131_D961_9DC1_376E,
        0x5CD5_4CA8_3DEF_57DA,
        0x7A38_9D10_354B_D271,
    ),
    (
        0x07A1_133E_4A0B_2686,
        0x0248_D438_06F6_7172,
        0x868E_BB51_CAB4_599A,
    ),
    (
        0x3849_674C_2602_319E,
        0x5145_4B58_2DDF_440A,
        0x7178_876E_01F1_9B2A,
    ),
    (
        0x04B9_15BA_43FE_B5B6,
        0x42FD_4430_5957_7FA2,
        0xAF37_FB42_1F8C_4095,
    ),
    (
        0x0113_B970_FD34_F2CE,
        0x059B_5E08_51CF_143A,
        0x86A5_60F1_0EC6_D85B,
    ),
    (
        0x0170_F175_468F_B5E6,
        0x0756_D8E0_7747_61D2,
        0x0CD3_DA02_0021_DC09,
    ),
    (
        0x4329_7FAD_38E3_73FE,
        0x7625_14B8_29BF_486A,
        0xEA67_6B2C_B7DB_2B7A,
    ),
    (
        0x07A7_1370_45DA_2A16,
        0x3BDD_1190_4937_2802,
        0xDFD6_4A81_5CAF_1A0F,
    ),
    (
        0x0468_9104_C2FD_3B2F,
        0x2695_5F68_35AF_609A,
        0x5C51_3C9C_4886_C088,
    ),
    (
        0x37D0_6BB5_16CB_7546,
        0x164D_5E40_4F27_5232,
        0x0A2A_EEAE_3FF4_AB77,
    ),
    (
        0x1F08_260D_1AC2_465E,
        0x6B05_6E18_759F_5CCA,
        0xEF1B_F03E_5DFA_575A,
    ),
    (
        0x5840_2364_1ABA_6176,
        0x004B_D6EF_0917_6062,
        0x88BF_0DB6_D70D_EE56,
    ),
    (
        0x0258_1616_4629_B007,
        0x480D_3900_6EE7_62F2,
        0xA1F9_9155_4102_0B56,
    ),
    (
        0x4979_3EBC_79B3_258F,
        0x4375_40C8_698F_3CFA,
        0x6FBF_1CAF_CFFD_0556,
    ),
    (
        0x4FB0_5E15_15AB_73A7,
        0x072D_43A0_7707_5292,
        0x2F22_E49B_AB7C_A1AC,
    ),
    (
        0x49E9_5D6D_4CA2_29BF,
        0x02FE_5577_8117_F12A,
        0x5A6B_612C_C26C_CE4A,
    ),
    (
        0x0183_10DC_409B_26D6,
        0x1D9D_5C50_18F7_28C2,
        0x5F4C_038E_D12B_2E41,
    ),
    (
        0x1C58_7F1C_1392_4FEF,
        0x3055_3228_6D6F_295A,
        0x63FA_C0D0_34D9_F793,
    ),
];

/// Encrypt `pt` under `key` with this module's DES and with the `des` crate; both must give
/// `ct`, and decryption must give `pt` back.
fn check(table: &str, row: usize, key: u64, pt: u64, ct: u64) {
    let ours = Des::new_from_bytes(&key.to_be_bytes());
    let oracle = des::Des::new(&key.to_be_bytes().into());
    let mut block = pt.to_be_bytes().into();
    oracle.encrypt_block(&mut block);
    assert_eq!(
        u64::from_be_bytes(block.0),
        ct,
        "{table} row {row}: the des crate disagrees with the table (typo in the table?)"
    );
    assert_eq!(
        ours.encrypt_u64(pt),
        ct,
        "{table} row {row}: encrypt, key {key:016x}, pt {pt:016x}"
    );
    assert_eq!(
        ours.decrypt_u64(ct),
        pt,
        "{table} row {row}: decrypt, key {key:016x}, ct {ct:016x}"
    );
    oracle.decrypt_block(&mut block);
    assert_eq!(u64::from_be_bytes(block.0), pt, "{table} row {row}");
}

#[test]
fn sp800_17_variable_plaintext() {
    for (row, &(pt, ct)) in VARIABLE_PLAINTEXT.iter().enumerate() {
        check("Table 1", row + 1, 0x0101_0101_0101_0101, pt, ct);
    }
    // The table walks one bit through every plaintext position, in order.
    for (i, &(pt, _)) in VARIABLE_PLAINTEXT.iter().enumerate() {
        assert_eq!(pt, 1 << (63 - i));
    }
}

#[test]
fn sp800_17_variable_key() {
    for (row, &(key, ct)) in VARIABLE_KEY.iter().enumerate() {
        check("Table 2", row + 1, key, 0, ct);
    }
    // One row per key bit: 56 distinct keys, each with odd parity in every byte.
    let mut keys: Vec<u64> = VARIABLE_KEY.iter().map(|&(k, _)| k).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 56);
    assert!(
        keys.iter()
            .all(|k| k.to_be_bytes().iter().all(|b| b.count_ones() % 2 == 1))
    );
}

#[test]
fn sp800_17_permutation_operation() {
    for (row, &(key, ct)) in PERMUTATION_OPERATION.iter().enumerate() {
        check("Table 3", row + 1, key, 0, ct);
    }
}

#[test]
fn sp800_17_substitution_table() {
    for (row, &(key, pt, ct)) in SUBSTITUTION_TABLE.iter().enumerate() {
        check("Table 4", row + 1, key, pt, ct);
    }
}
