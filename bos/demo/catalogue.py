"""Reference data for the demo: Bojonegoro's kecamatan, buyers and an item catalogue with plausible IDR prices.

Prices are rounded market figures for East Java in 2024-2026, good enough for peer statistics to be meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

from bos.enums import OrganisationKind, ProcurementCategory

PROVINCE = ("35", "Jawa Timur")
KABUPATEN = ("35.22", "Kabupaten Bojonegoro")

KECAMATAN = (
    "Margomulyo", "Ngraho", "Tambakrejo", "Ngambon", "Sekar", "Bubulan", "Gondang", "Temayang", "Sugihwaras",
    "Kedungadem", "Kepohbaru", "Baureno", "Kanor", "Sumberrejo", "Balen", "Sukosewu", "Kapas", "Bojonegoro",
    "Trucuk", "Dander", "Ngasem", "Gayam", "Kalitidu", "Malo", "Purwosari", "Padangan", "Kasiman", "Kedewan",
)  # fmt: skip

DESA_NAMES = (
    "Sukorejo", "Mojoranu", "Kauman", "Ngumpakdalem", "Sumbertlaseh", "Leran", "Ngampel", "Kalianyar",
    "Sambiroto", "Jono", "Kunci", "Banjarsari", "Kedungprimpen", "Bakung", "Pejok", "Mulyoagung",
)  # fmt: skip


@dataclass(frozen=True)
class BuyerSpec:
    name: str
    kind: OrganisationKind
    code: str  # identifier within ID-KEMENDAGRI style scheme
    categories: tuple[ProcurementCategory, ...]
    weight: int  # how many processes it runs, relatively


G, W, S = ProcurementCategory.GOODS, ProcurementCategory.WORKS, ProcurementCategory.SERVICES

BUYERS: tuple[BuyerSpec, ...] = (
    BuyerSpec(
        "Dinas Pekerjaan Umum Bina Marga dan Penataan Ruang", OrganisationKind.DINAS, "35.22.1.03.01", (W, S), 14
    ),
    BuyerSpec("Dinas Pekerjaan Umum Sumber Daya Air", OrganisationKind.DINAS, "35.22.1.03.02", (W, S), 9),
    BuyerSpec(
        "Dinas Perumahan, Kawasan Permukiman dan Cipta Karya", OrganisationKind.DINAS, "35.22.1.04.01", (W, S), 8
    ),
    BuyerSpec("Dinas Pendidikan", OrganisationKind.DINAS, "35.22.1.01.01", (G, W, S), 12),
    BuyerSpec("Dinas Kesehatan", OrganisationKind.DINAS, "35.22.1.02.01", (G, S), 10),
    BuyerSpec("RSUD Dr. R. Sosodoro Djatikoesoemo", OrganisationKind.DINAS, "35.22.1.02.02", (G, S), 9),
    BuyerSpec("Dinas Perhubungan", OrganisationKind.DINAS, "35.22.2.15.01", (G, W), 4),
    BuyerSpec("Dinas Lingkungan Hidup", OrganisationKind.DINAS, "35.22.2.11.01", (G, S), 4),
    BuyerSpec("Dinas Komunikasi dan Informatika", OrganisationKind.DINAS, "35.22.2.16.01", (G, S), 4),
    BuyerSpec("Sekretariat Daerah", OrganisationKind.DINAS, "35.22.4.01.01", (G, S), 6),
    BuyerSpec("Puskesmas Kapas", OrganisationKind.PUSKESMAS, "35.22.1.02.10", (G, S), 3),
    BuyerSpec("Puskesmas Dander", OrganisationKind.PUSKESMAS, "35.22.1.02.11", (G, S), 3),
    BuyerSpec("Puskesmas Kalitidu", OrganisationKind.PUSKESMAS, "35.22.1.02.12", (G, S), 3),
    BuyerSpec("Puskesmas Padangan", OrganisationKind.PUSKESMAS, "35.22.1.02.13", (G, S), 2),
    BuyerSpec("SMP Negeri 1 Bojonegoro", OrganisationKind.SCHOOL, "20505550", (G, W), 2),
    BuyerSpec("SMP Negeri 2 Kalitidu", OrganisationKind.SCHOOL, "20505601", (G, W), 2),
    BuyerSpec("Pemerintah Desa Sukorejo", OrganisationKind.VILLAGE, "35.22.17.2001", (W, G), 2),
    BuyerSpec("Pemerintah Desa Ngumpakdalem", OrganisationKind.VILLAGE, "35.22.20.2004", (W, G), 2),
    BuyerSpec("Pemerintah Desa Leran", OrganisationKind.VILLAGE, "35.22.16.2007", (W, G), 2),
    BuyerSpec("Pemerintah Desa Banjarsari", OrganisationKind.VILLAGE, "35.22.19.2002", (W, G), 2),
)


@dataclass(frozen=True)
class CatalogueItem:
    description: str
    scheme: str
    code: str
    unit: str
    unit_price: int  # typical IDR price
    category: ProcurementCategory
    quantity: tuple[int, int]  # typical range for one purchase


CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem("Kertas HVS A4 80 gram", "UNSPSC", "14111507", "rim", 55_000, G, (50, 600)),
    CatalogueItem("Laptop untuk administrasi", "UNSPSC", "43211503", "unit", 12_500_000, G, (2, 40)),
    CatalogueItem("Komputer desktop (PC)", "UNSPSC", "43211507", "unit", 9_000_000, G, (2, 40)),
    CatalogueItem("Printer laser", "UNSPSC", "43212105", "unit", 3_500_000, G, (1, 20)),
    CatalogueItem("Proyektor LCD", "UNSPSC", "45111609", "unit", 6_500_000, G, (1, 15)),
    CatalogueItem("Meja kerja kantor", "UNSPSC", "56101703", "unit", 1_800_000, G, (5, 80)),
    CatalogueItem("Kursi kerja kantor", "UNSPSC", "56112102", "unit", 950_000, G, (5, 120)),
    CatalogueItem("AC split 1 PK", "UNSPSC", "40101701", "unit", 5_200_000, G, (2, 30)),
    CatalogueItem("Tablet parasetamol 500 mg", "UNSPSC", "51142106", "box", 35_000, G, (100, 3000)),
    CatalogueItem("Masker medis 3 ply", "UNSPSC", "42131713", "box", 45_000, G, (100, 2000)),
    CatalogueItem("Sarung tangan pemeriksaan", "UNSPSC", "42132203", "box", 85_000, G, (50, 1500)),
    CatalogueItem("Buku teks pelajaran", "UNSPSC", "55101509", "eksemplar", 48_000, G, (200, 5000)),
    CatalogueItem("Seragam dinas harian", "UNSPSC", "53102710", "stel", 275_000, G, (20, 400)),
    CatalogueItem("Ambulans roda empat", "UNSPSC", "25101703", "unit", 650_000_000, G, (1, 3)),
    CatalogueItem("Sepeda motor dinas", "UNSPSC", "25101801", "unit", 24_000_000, G, (2, 25)),
    CatalogueItem("Semen portland 50 kg", "UNSPSC", "30111601", "sak", 66_000, G, (200, 4000)),
    CatalogueItem("Pengaspalan jalan (hotmix)", "UNSPSC", "72141103", "m2", 360_000, W, (2_000, 30_000)),
    CatalogueItem("Rehabilitasi ruang kelas", "UNSPSC", "72121102", "m2", 2_600_000, W, (60, 600)),
    CatalogueItem("Saluran drainase beton", "UNSPSC", "72141120", "m", 1_250_000, W, (100, 2_500)),
    CatalogueItem("Talud pasangan batu", "UNSPSC", "72141510", "m3", 920_000, W, (100, 2_000)),
    CatalogueItem("Paving blok jalan desa", "UNSPSC", "72141104", "m2", 185_000, W, (300, 6_000)),
    CatalogueItem("Pembangunan gedung puskesmas pembantu", "UNSPSC", "72121103", "m2", 4_800_000, W, (80, 400)),
    CatalogueItem("Jembatan beton bentang pendek", "UNSPSC", "72141200", "m", 38_000_000, W, (6, 40)),
    CatalogueItem("Jasa konsultansi perencanaan teknis", "UNSPSC", "81101500", "bulan", 42_000_000, S, (2, 8)),
    CatalogueItem("Jasa konsultansi pengawasan", "UNSPSC", "80101604", "bulan", 36_000_000, S, (3, 10)),
    CatalogueItem("Jasa kebersihan gedung", "UNSPSC", "76111501", "bulan", 26_000_000, S, (6, 12)),
    CatalogueItem("Jasa katering makan minum rapat", "UNSPSC", "90101603", "porsi", 38_000, S, (200, 8000)),
    CatalogueItem("Sewa kendaraan operasional", "UNSPSC", "78111808", "hari", 750_000, S, (20, 365)),
    CatalogueItem("Pemeliharaan jaringan internet", "UNSPSC", "81112101", "bulan", 15_000_000, S, (6, 12)),
)

COMPANY_FORMS = ("CV", "CV", "CV", "PT", "PT")
COMPANY_WORDS_A = (
    "Maju", "Sinar", "Karya", "Mitra", "Bumi", "Cahaya", "Putra", "Jaya", "Sumber", "Anugerah", "Bintang",
    "Mega", "Tunas", "Surya", "Berkah", "Graha", "Citra", "Prima", "Harapan", "Mandiri",
)  # fmt: skip
COMPANY_WORDS_B = (
    "Abadi", "Sejahtera", "Utama", "Makmur", "Perkasa", "Lestari", "Sentosa", "Mulia", "Persada", "Nusantara",
    "Bersama", "Teknik", "Konstruksi", "Medika", "Komputindo", "Mandiri", "Santoso", "Gemilang",
)  # fmt: skip

DISQUALIFICATION_REASONS = (
    "Dokumen kualifikasi tidak lengkap",
    "Jaminan penawaran tidak sah",
    "Spesifikasi teknis tidak memenuhi persyaratan",
    "Masa berlaku penawaran kurang dari yang disyaratkan",
    "Tenaga ahli tidak memenuhi persyaratan",
)

AMENDMENT_RATIONALES = (
    "Pekerjaan tambah (addendum) karena perubahan volume di lapangan",
    "Perpanjangan waktu pelaksanaan karena cuaca ekstrem",
    "Penyesuaian harga satuan akibat kenaikan harga material",
)

CANCELLATION_RATIONALES = (
    "Anggaran dialihkan untuk penanganan bencana (refocusing)",
    "Spesifikasi teknis perlu ditinjau ulang setelah sanggah",
    "Seluruh penawaran tidak memenuhi persyaratan (tender gagal)",
)
