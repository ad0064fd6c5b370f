"""Connections: move records between a PACS, this library and an EHR.

This package sits above the adapters (:mod:`icans_interop.dicom`, :mod:`icans_interop.fhir`)
and the validators (:mod:`icans_interop.validation`) and below the CLI. It moves bytes over
DICOMweb (:mod:`.dicomweb`, on ``dicomweb-client``), DIMSE (:mod:`.dimse`, on ``pynetdicom``)
and FHIR REST (:mod:`.fhir_rest`, on ``httpx``) and calls only the public API of the layers
below; the SR-to-FHIR :mod:`.gateway` adds a durable :mod:`.spool`, and :mod:`.batch` runs the
batch validator on a Dask cluster. The network libraries are optional (``pip install
'icans-interop[net]'``) and imported only by the modules that use them.
"""
