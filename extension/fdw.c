/*-------------------------------------------------------------------------
 *
 * fdw.c
 *		  The handler of the widecol foreign data wrapper: the FdwRoutine
 *		  that wires each callback to the file that implements it.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/fdw.c
 *
 * NOTES
 *	  The install script (sql/widecol--0.1.sql) makes widecol_fdw_handler
 *	  the HANDLER and widecol_fdw_validator (validate.c) the VALIDATOR of
 *	  the wrapper.
 *
 *	  The callbacks live with their concept: planning in plan.c, scans and
 *	  EXPLAIN in scan.c, the direct DELETE in direct_delete.c, ANALYZE in
 *	  analyze.c, IMPORT FOREIGN SCHEMA in import.c, and INSERT, UPDATE,
 *	  DELETE and COPY in modify.c (which fills in its own callbacks).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/fdwapi.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_fdw_handler);

Datum
widecol_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = widecolGetForeignRelSize;
	routine->GetForeignPaths = widecolGetForeignPaths;
	routine->GetForeignPlan = widecolGetForeignPlan;
	routine->GetForeignUpperPaths = widecolGetForeignUpperPaths;
	routine->BeginForeignScan = widecolBeginForeignScan;
	routine->IterateForeignScan = widecolIterateForeignScan;
	routine->ReScanForeignScan = widecolReScanForeignScan;
	routine->EndForeignScan = widecolEndForeignScan;
	routine->ExplainForeignScan = widecolExplainForeignScan;
	routine->AnalyzeForeignTable = widecolAnalyzeForeignTable;
	routine->ImportForeignSchema = widecolImportForeignSchema;
	routine->PlanDirectModify = widecolPlanDirectModify;
	routine->BeginDirectModify = widecolBeginDirectModify;
	routine->IterateDirectModify = widecolIterateDirectModify;
	routine->EndDirectModify = widecolEndDirectModify;
	routine->ExplainDirectModify = widecolExplainDirectModify;
	widecol_fdw_modify_routine(routine);
	PG_RETURN_POINTER(routine);
}
